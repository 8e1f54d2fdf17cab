import {
  DocumentBlockSchema,
  ImageBlockSchema,
  TextBlockSchema,
  type ToolResultBlock,
} from '../protocol/content.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/zod-errors.ts';

// How any value becomes tool_result content: for blocks built by hand (`toolResult`) and for
// what tools return (`runToolCalls`). No `node:` imports: tools run in browsers too.

type ToolResultContent = Exclude<ToolResultBlock['content'], string | undefined>;

/** A `tool_result` block; `content` as {@link toolResultContent} converts it, left out when `undefined`. */
export function toolResult(
  toolUseId: string,
  content: unknown,
  options: { isError?: boolean } = {},
): ToolResultBlock {
  const block: ToolResultBlock = { type: 'tool_result', tool_use_id: toolUseId };
  if (content !== undefined) block.content = toolResultContent(content);
  if (options.isError !== undefined) block.is_error = options.isError;
  return block;
}

/**
 * A value as `tool_result` content. The one converter: `toolResult()` and the return value
 * of every tool that `runToolCalls` runs go through it.
 * - a string: as is;
 * - `undefined` or `null`: `''` (the tool had nothing to say);
 * - a text, image or document block, or a non-empty array of them: as blocks;
 * - anything else (objects, numbers, other arrays, an empty array): compact `JSON.stringify`,
 *   which is what a model reads best and costs the fewest tokens.
 *
 * A malformed block is an error, never JSON: a value shaped like blocks (an object, or a
 * non-empty array of objects, each with `type` text, image or document) must be valid blocks,
 * else `InvalidRequestError` names the block and the field. Sent as JSON, the mistake would be
 * hidden (an image the model never sees, its base64 read as text); sent as is, the API would
 * reject the whole request. A value JSON cannot carry is an `InvalidRequestError` too. For a
 * tool, either becomes an `is_error` result with that message.
 */
export function toolResultContent(value: unknown): string | ToolResultContent {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (isBlockShaped(value)) {
    checkToolResultBlock(value, 0);
    return [value] as ToolResultContent;
  }
  if (Array.isArray(value) && value.length > 0 && value.every(isBlockShaped)) {
    value.forEach(checkToolResultBlock);
    return value as ToolResultContent;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidRequestError(
      `The tool result cannot be serialised as JSON (${messageOf(error)}); use a string or a JSON-compatible value.`,
      { cause: error },
    );
  }
  // JSON.stringify gives undefined for functions and symbols: nothing a model could read.
  if (json === undefined) {
    throw new InvalidRequestError(
      `The tool result has no JSON form (it is ${typeof value === 'object' ? 'an object whose toJSON gives nothing' : `a ${typeof value}`}); use a string or a JSON-compatible value.`,
    );
  }
  return json;
}

const TOOL_RESULT_BLOCK_SCHEMAS = {
  text: TextBlockSchema,
  image: ImageBlockSchema,
  document: DocumentBlockSchema,
};
type ToolResultBlockType = keyof typeof TOOL_RESULT_BLOCK_SCHEMAS;

/** An object whose `type` is a block type a tool result takes: meant as a block. */
function isBlockShaped(value: unknown): value is { type: ToolResultBlockType } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(TOOL_RESULT_BLOCK_SCHEMAS, (value as { type?: unknown }).type as string)
  );
}

function checkToolResultBlock(block: { type: ToolResultBlockType }, index: number): void {
  const result = TOOL_RESULT_BLOCK_SCHEMAS[block.type].safeParse(block);
  if (!result.success) {
    throw new InvalidRequestError(
      `Tool result block ${index} is not a valid ${block.type} block: ${describeZodError(result.error, { root: '(block)' })}.`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import {
  type ContentBlockParam,
  type ImageBlock,
  ImageMediaTypeSchema,
  isBlock,
  type TextBlock,
  type ToolResultBlock,
  type ToolUseBlock,
} from '../../../protocol/content.ts';
import { InvalidRequestError } from '../../../protocol/errors.ts';
import type { CustomTool, MessageCreateParams, MessageParam, ToolChoice } from '../../../protocol/request.ts';
import { describeZodError, requireJsonObject } from '../../../protocol/zod-errors.ts';
import {
  type OpenAIAssistantMessage,
  type OpenAIChatRequest,
  OpenAIChatRequestSchema,
  type OpenAIMessage,
  type OpenAIToolChoice,
  type OpenAIUserMessage,
} from '../wire.ts';

// Server side (the gateway and the simulator speaking OpenAI to their callers): a Chat Completions
// request body as a Messages API request.

/** What a Chat Completions request without a token limit gets (the Messages API requires one). */
export const OPENAI_DEFAULT_MAX_TOKENS = 4096;

export interface FromOpenAIRequestResult {
  request: MessageCreateParams;
  /** The client asked for the final usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
}

type Turn = { role: 'user' | 'assistant'; content: ContentBlockParam[]; plain: string | undefined };

/**
 * A Chat Completions request body as a Messages API request. Anything malformed or not
 * representable is an `InvalidRequestError` naming the field. Sampling knobs with no
 * Anthropic equivalent (frequency_penalty, seed, logit_bias, …) are ignored, as OpenAI-
 * compatible servers commonly do; features whose absence would change the answer's shape
 * (n > 1, response_format) are refused.
 */
export function fromOpenAIRequest(body: unknown): FromOpenAIRequestResult {
  requireJsonObject(body);
  const parsed = OpenAIChatRequestSchema.safeParse(body);
  if (!parsed.success)
    throw new InvalidRequestError(
      `Invalid request: ${describeZodError(parsed.error, { root: 'body', indices: 'bracketed' })}.`,
    );
  const input = parsed.data;
  refuseUnsupported(input);

  const systemTexts: string[] = [];
  const turns: Turn[] = [];
  input.messages.forEach((message, index) => {
    if (message.role === 'system' || message.role === 'developer') {
      // Anthropic has one system prompt: system messages anywhere in the list are gathered there.
      systemTexts.push(...textsOf(message.content));
      return;
    }
    const turn = convertMessage(message, index);
    // An empty turn (an assistant message with null content) is skipped before merging, so
    // the turns around it still merge.
    if (turn.content.length > 0 || turn.plain !== undefined) addTurn(turns, turn);
  });

  const request: MessageCreateParams = {
    model: input.model,
    messages: turns.map(toMessageParam),
    max_tokens: input.max_completion_tokens ?? input.max_tokens ?? OPENAI_DEFAULT_MAX_TOKENS,
  };
  if (systemTexts.length === 1) request.system = systemTexts[0];
  else if (systemTexts.length > 1) request.system = systemTexts.map((text) => ({ type: 'text', text }));
  // OpenAI's range is 0–2, Anthropic's 0–1: clamped rather than refused, as OpenAI clients
  // commonly send values above 1.
  if (typeof input.temperature === 'number') request.temperature = Math.min(input.temperature, 1);
  if (typeof input.top_p === 'number') request.top_p = input.top_p;
  if (input.stop !== undefined && input.stop !== null) {
    const stops = typeof input.stop === 'string' ? [input.stop] : input.stop;
    if (stops.length > 0) request.stop_sequences = stops;
  }
  if (input.tools !== undefined && input.tools.length > 0) request.tools = input.tools.map(convertTool);
  const toolChoice = convertToolChoice(input.tool_choice, input.parallel_tool_calls);
  if (toolChoice !== undefined) request.tool_choice = toolChoice;
  if (typeof input.stream === 'boolean') request.stream = input.stream;
  if (input.user !== undefined) request.metadata = { user_id: input.user };
  return { request, includeUsage: input.stream === true && input.stream_options?.include_usage === true };
}

function refuseUnsupported(input: OpenAIChatRequest): void {
  if (typeof input.n === 'number' && input.n > 1) {
    throw new InvalidRequestError(
      'n: only one choice per request is supported; send n separate requests instead.',
    );
  }
  const format = input.response_format?.type;
  if (format !== undefined && format !== 'text') {
    throw new InvalidRequestError(
      `response_format: ${format} is not supported; describe the format in the prompt, or define a tool whose parameters are the schema and force it with tool_choice.`,
    );
  }
}

/** Consecutive messages of one role become one turn: Anthropic expects roles to alternate. */
function addTurn(turns: Turn[], turn: Turn): void {
  const last = turns.at(-1);
  if (last === undefined || last.role !== turn.role) {
    turns.push(turn);
    return;
  }
  last.content = [...blocksOf(last), ...blocksOf(turn)];
  last.plain = undefined;
  // Anthropic requires a user turn's tool results before anything else in it.
  if (last.role === 'user') {
    last.content = [
      ...last.content.filter((block) => block.type === 'tool_result'),
      ...last.content.filter((block) => block.type !== 'tool_result'),
    ];
  }
}

function blocksOf(turn: Turn): ContentBlockParam[] {
  return turn.plain === undefined ? turn.content : [{ type: 'text', text: turn.plain }];
}

/** A turn that is a single string stays a string, the form the caller most likely sent. */
function toMessageParam(turn: Turn): MessageParam {
  return { role: turn.role, content: turn.plain ?? turn.content };
}

function convertMessage(message: OpenAIMessage, index: number): Turn {
  const path = `messages[${index}]`;
  switch (message.role) {
    case 'user':
      return convertUser(message, path);
    case 'assistant':
      return convertAssistant(message, path);
    case 'tool': {
      const content = message.content;
      const block: ToolResultBlock = {
        type: 'tool_result',
        tool_use_id: message.tool_call_id,
        content:
          typeof content === 'string'
            ? content
            : content.map((part): TextBlock => ({ type: 'text', text: part.text })),
      };
      return { role: 'user', content: [block], plain: undefined };
    }
    default:
      throw new InvalidRequestError(
        `${path}.role: the deprecated ${message.role} role is not supported; send tool calls as assistant tool_calls and their results as tool messages.`,
      );
  }
}

function convertUser(message: OpenAIUserMessage, path: string): Turn {
  if (typeof message.content === 'string') return { role: 'user', content: [], plain: message.content };
  const content = message.content.map((part, index): ContentBlockParam => {
    const partPath = `${path}.content[${index}]`;
    switch (part.type) {
      case 'text':
        return { type: 'text', text: part.text };
      case 'image_url':
        return imageBlock(part.image_url.url, `${partPath}.image_url.url`);
      default:
        throw new InvalidRequestError(
          `${partPath}.type: ${part.type} parts are not supported; send text and images (image_url) only.`,
        );
    }
  });
  return { role: 'user', content, plain: undefined };
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string, path: string): ImageBlock {
  const data = DATA_URL.exec(url);
  if (data !== null) {
    const mediaType = ImageMediaTypeSchema.safeParse(data[1]);
    if (!mediaType.success) {
      throw new InvalidRequestError(
        `${path}: images of type ${data[1]} are not supported; send image/jpeg, image/png, image/gif or image/webp.`,
      );
    }
    return {
      type: 'image',
      source: { type: 'base64', media_type: mediaType.data, data: data[2]! },
    };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new InvalidRequestError(`${path}: expected an http(s) URL or a base64 data: URL.`);
}

function convertAssistant(message: OpenAIAssistantMessage, path: string): Turn {
  if (message.function_call !== undefined && message.function_call !== null) {
    throw new InvalidRequestError(`${path}.function_call: deprecated; send the call in tool_calls instead.`);
  }
  const content: ContentBlockParam[] = [];
  const texts =
    message.content === undefined || message.content === null ? [] : assistantTexts(message.content);
  for (const text of texts) if (text !== '') content.push({ type: 'text', text });
  if (typeof message.refusal === 'string' && message.refusal !== '')
    content.push({ type: 'text', text: message.refusal });
  (message.tool_calls ?? []).forEach((call, index) => {
    content.push(toolUseBlock(call, `${path}.tool_calls[${index}]`));
  });
  const [first] = content;
  if (content.length === 1 && first !== undefined && isBlock(first, 'text'))
    return { role: 'assistant', content: [], plain: first.text };
  return { role: 'assistant', content, plain: undefined };
}

function assistantTexts(content: NonNullable<OpenAIAssistantMessage['content']>): string[] {
  if (typeof content === 'string') return [content];
  return content.map((part) => (part.type === 'refusal' ? part.refusal : part.text));
}

function toolUseBlock(
  call: NonNullable<OpenAIAssistantMessage['tool_calls']>[number],
  path: string,
): ToolUseBlock {
  if (call.type !== 'function') {
    throw new InvalidRequestError(
      `${path}.type: ${call.type} tool calls are not supported; use function tools.`,
    );
  }
  const fn = call.function;
  let input: unknown;
  try {
    // Clients send "" for a call without arguments.
    input = fn.arguments.trim() === '' ? {} : JSON.parse(fn.arguments);
  } catch {
    throw new InvalidRequestError(
      `${path}.function.arguments: expected a JSON object, got ${preview(fn.arguments)}.`,
    );
  }
  return { type: 'tool_use', id: call.id, name: fn.name, input };
}

function textsOf(content: string | { text: string }[]): string[] {
  return typeof content === 'string' ? [content] : content.map((part) => part.text);
}

function convertTool(tool: NonNullable<OpenAIChatRequest['tools']>[number], index: number): CustomTool {
  if (tool.type !== 'function') {
    throw new InvalidRequestError(
      `tools[${index}].type: ${tool.type} tools are not supported; use function tools.`,
    );
  }
  const fn = tool.function;
  const parameters = fn.parameters ?? {};
  if (parameters.type !== undefined && parameters.type !== 'object') {
    throw new InvalidRequestError(
      `tools[${index}].function.parameters.type: expected "object", got ${preview(parameters.type)}.`,
    );
  }
  // `{}` (no arguments) is valid for OpenAI; Anthropic wants an explicit object schema.
  const input_schema = { ...parameters, type: 'object' as const };
  const result: CustomTool = { name: fn.name, input_schema };
  if (fn.description !== undefined) result.description = fn.description;
  return result;
}

function convertToolChoice(
  choice: OpenAIToolChoice | undefined,
  parallel: boolean | undefined,
): ToolChoice | undefined {
  if (choice === 'none') return { type: 'none' };
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...disable } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disable };
  if (choice === 'required') return { type: 'any', ...disable };
  if (choice.type === 'function') {
    return { type: 'tool', name: choice.function.name, ...disable };
  }
  throw new InvalidRequestError(
    `tool_choice.type: ${choice.type} is not supported; use "none", "auto", "required" or a function.`,
  );
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 80))}…` : JSON.stringify(text);
}

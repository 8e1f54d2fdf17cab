import { isBlock, type ToolUseBlock } from '../protocol/content.ts';
import { SluiceError, type SluiceErrorOptions } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import { toolInputErrorOf } from '../stream/assemble.ts';
import type { CallOptions } from './call-options.ts';
import { adaptSchema, type SchemaOutput, type StandardSchema } from './schema.ts';
import { tool } from './tools.ts';

/** The model's structured answer did not match the schema. `input` is what it sent. */
export class StructuredOutputError extends SluiceError {
  override name = 'StructuredOutputError';
  readonly input: unknown;
  constructor(message: string, input: unknown, options?: SluiceErrorOptions) {
    super('api_error', message, { status: 502, ...options });
    this.input = input;
  }
}

/** Options of `Client.structured`: a call's options (no tools, tool choice or prefill, which it sets itself) and the tool's name and description. */
export interface StructuredOptions extends Omit<CallOptions, 'tools' | 'toolChoice' | 'prefill'> {
  /** The name of the answer tool the model is made to call. */
  name?: string;
  description?: string;
}

/**
 * Forces one tool call whose arguments are the answer: the most reliable way to get JSON
 * out of a model. Non-object schemas are wrapped in `{ value }` (the API wants an object)
 * and unwrapped again.
 */
export function structuredCall<Schema extends StandardSchema>(
  schema: Schema,
  options: StructuredOptions,
): { callOptions: CallOptions; parse: (message: Message) => Promise<SchemaOutput<Schema>> } {
  const answer = adaptSchema(schema, 'The structured answer’s schema');
  const wrapped = jsonSchemaType(answer.jsonSchema()) !== 'object';
  const name = options.name ?? 'respond';
  const answerTool = tool({
    name,
    description: options.description ?? 'Give your answer by calling this tool with it as the arguments.',
    input: wrapped ? valueWrapper(answer.jsonSchema()) : schema,
    run: () => '',
  });
  const { name: _name, description: _description, ...callOptions } = options;
  return {
    callOptions: { ...callOptions, tools: [answerTool], toolChoice: name },
    async parse(message) {
      const call = message.content.find(
        (block): block is ToolUseBlock => isBlock(block, 'tool_use') && block.name === name,
      );
      if (!call) {
        throw new StructuredOutputError(
          `The model did not call ${name} (stop reason ${message.stop_reason}); raise maxTokens if it ran out.`,
          undefined,
        );
      }
      const invalidJson = toolInputErrorOf(call);
      if (invalidJson) {
        throw new StructuredOutputError(
          `The model's answer was not valid JSON: ${invalidJson.message}`,
          invalidJson.raw,
        );
      }
      const given = wrapped ? (call.input as { value?: unknown }).value : call.input;
      const result = await answer.validate(given, wrapped ? 'value' : '(root)');
      if (!result.ok) {
        throw new StructuredOutputError(
          `The model's answer does not match the schema: ${result.problems}`,
          call.input,
        );
      }
      return result.value as SchemaOutput<Schema>;
    },
  };
}

function jsonSchemaType(json: Record<string, unknown>): unknown {
  return json.type;
}

/**
 * `{ value }` around a schema that is not an object, for the tool call; validation stays with
 * the schema itself (the wrapper's own `validate` is never used for the answer).
 */
function valueWrapper(json: Record<string, unknown>): StandardSchema {
  // Definitions stay at the root, where the schema's `#/$defs/…` references point.
  const { $schema: _ignored, $defs: defs, ...valueSchema } = json;
  const objectJson = {
    ...(defs === undefined ? {} : { $defs: defs }),
    type: 'object',
    properties: { value: valueSchema },
    required: ['value'],
    additionalProperties: false,
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'sluice',
      validate: (value) => ({ value }),
      jsonSchema: { input: () => objectJson, output: () => objectJson },
    } as StandardSchema['~standard'],
  };
}

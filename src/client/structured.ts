import { z } from 'zod';
import type { ToolUseBlock } from '../protocol/content.ts';
import { SluiceError, type SluiceErrorOptions } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import { describeZodError } from '../protocol/zod-errors.ts';
import { toolInputErrorOf } from '../stream/assemble.ts';
import type { CallOptions } from './call-options.ts';
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
export function structuredCall<Schema extends z.ZodType>(
  schema: Schema,
  options: StructuredOptions,
): { callOptions: CallOptions; parse: (message: Message) => z.infer<Schema> } {
  const wrapped = !(schema instanceof z.ZodObject);
  const input = wrapped ? z.object({ value: schema }) : schema;
  const name = options.name ?? 'respond';
  const answerTool = tool({
    name,
    description: options.description ?? 'Give your answer by calling this tool with it as the arguments.',
    input,
    run: () => '',
  });
  const { name: _name, description: _description, ...callOptions } = options;
  return {
    callOptions: { ...callOptions, tools: [answerTool], toolChoice: name },
    parse(message) {
      const call = message.content.find(
        (block): block is ToolUseBlock => block.type === 'tool_use' && (block as ToolUseBlock).name === name,
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
      const result = input.safeParse(call.input);
      if (!result.success) {
        throw new StructuredOutputError(
          `The model's answer does not match the schema: ${describeZodError(result.error)}`,
          call.input,
        );
      }
      return wrapped ? (result.data as { value: z.infer<Schema> }).value : (result.data as z.infer<Schema>);
    },
  };
}

import { ProtocolError } from '../../../protocol/errors.ts';
import type { Message } from '../../../protocol/message.ts';
import { MessageAssembler } from '../../../stream/assemble.ts';
import type {
  OpenAIChatChunk,
  OpenAIChatCompletion,
  OpenAIResponseMessage,
  OpenAIToolCallDelta,
} from '../wire.ts';
import { OpenAIStreamTranslator } from './stream.ts';

// Client side (Sluice calling an OpenAI-compatible upstream): a non-streaming completion as a message.

/**
 * A non-streaming completion as a message. It goes through the stream translation and the
 * assembler, so both paths agree on every detail (tool ids, invalid tool JSON, stop reason).
 */
export function openAIResponseToMessage(body: OpenAIChatCompletion, model?: string): Message {
  const choice = Array.isArray(body.choices) ? body.choices.find((c) => c.index === 0) : undefined;
  if (choice === undefined) throw new ProtocolError('The upstream answered with no choices.');
  const message = choice.message ?? { role: 'assistant', content: null };
  const chunk: OpenAIChatChunk = {
    id: body.id,
    object: 'chat.completion.chunk',
    created: body.created,
    model: body.model,
    choices: [
      {
        index: 0,
        delta: {
          role: 'assistant',
          reasoning_content: message.reasoning_content ?? message.reasoning ?? null,
          content: message.content ?? null,
          refusal: message.refusal ?? null,
          tool_calls: (message.tool_calls ?? []).map((call, index) => wholeToolCall(call, index)),
        },
        finish_reason: choice.finish_reason,
      },
    ],
    usage: body.usage ?? null,
  };
  const translator = new OpenAIStreamTranslator({ model: model ?? body.model });
  const assembler = new MessageAssembler();
  for (const event of [...translator.push(chunk), ...translator.end()]) assembler.apply(event);
  return assembler.finish();
}

function wholeToolCall(
  call: NonNullable<OpenAIResponseMessage['tool_calls']>[number],
  index: number,
): OpenAIToolCallDelta {
  if (call.type !== 'function') {
    throw new ProtocolError(`The upstream returned a ${call.type} tool call, which Sluice cannot represent.`);
  }
  const fn = call.function;
  return {
    index,
    id: call.id,
    type: 'function',
    function: { name: fn?.name, arguments: fn?.arguments ?? '' },
  };
}

import type { StreamEvent } from '../../src/protocol/events.ts';
import type { Message } from '../../src/protocol/message.ts';

/** Events of a well-formed message, for tests that build their own streams. */
export function messageStart(id = 'msg_test', usage = { input_tokens: 10, output_tokens: 1 }): StreamEvent {
  const message: Message = {
    id,
    type: 'message',
    role: 'assistant',
    model: 'test-model',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage,
  };
  return { type: 'message_start', message };
}

export function textMessageEvents(deltas: string[], options: { outputTokens?: number } = {}): StreamEvent[] {
  return [
    messageStart(),
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ...deltas.map(
      (text) =>
        ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }) as StreamEvent,
    ),
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: options.outputTokens ?? deltas.length },
    },
    { type: 'message_stop' },
  ];
}

export async function* eventsOf(events: StreamEvent[]): AsyncGenerator<StreamEvent> {
  for (const event of events) yield event;
}

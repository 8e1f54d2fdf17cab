import type { StreamEvent } from '../../protocol/events.ts';

/**
 * /streaming_chat's text as canonical events, so its answers go to the same log as the
 * model APIs': one text block, a delta per chunk written to the client.
 */
export class TextEvents {
  private started = false;
  private readonly model: string;

  constructor(model: string) {
    this.model = model;
  }

  chunk(text: string): StreamEvent[] {
    const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
    if (this.started) return [delta as StreamEvent];
    this.started = true;
    return [
      {
        type: 'message_start',
        message: {
          id: `msg_text`,
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      } as StreamEvent,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } as StreamEvent,
      delta as StreamEvent,
    ];
  }

  end(): StreamEvent[] {
    return [
      ...(this.started ? [] : this.chunk('')),
      { type: 'content_block_stop', index: 0 } as StreamEvent,
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 0 },
      } as StreamEvent,
      { type: 'message_stop' } as StreamEvent,
    ];
  }
}

/** The text of logged events (a /streaming_chat stream's answer). */
export function textOf(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.type !== 'content_block_delta') continue;
    const delta = (event as { delta?: { type?: string; text?: string } }).delta;
    if (delta?.type === 'text_delta' && typeof delta.text === 'string') text += delta.text;
  }
  return text;
}

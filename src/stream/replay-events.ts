import { type ContentBlock, isBlock } from '../protocol/content.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { Message } from '../protocol/message.ts';

/**
 * The shortest event sequence that assembles to `message`: one delta per streamed field of
 * each block instead of the many the model sent. A finished `MessageStream` keeps its message,
 * not its events, and replays these to a reader that comes after the end, so memory stays that
 * of the message. `complete: false` (a failed stream's partial message) leaves out
 * `message_delta` and `message_stop`, as the cut stream did.
 */
export function replayEvents(message: Message, complete = true): StreamEvent[] {
  const events: StreamEvent[] = [
    {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, stop_sequence: null },
    },
  ];
  message.content.forEach((block, index) => {
    events.push(...blockEvents(block, index));
  });
  if (!complete) return events;
  events.push(
    {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
      usage: message.usage,
    },
    { type: 'message_stop' },
  );
  return events;
}

function blockEvents(block: ContentBlock, index: number): StreamEvent[] {
  const delta = (payload: Record<string, unknown>) =>
    ({ type: 'content_block_delta', index, delta: payload }) as StreamEvent;
  const start = (contentBlock: ContentBlock) =>
    ({ type: 'content_block_start', index, content_block: contentBlock }) as StreamEvent;
  const events: StreamEvent[] = [];
  if (isBlock(block, 'text')) {
    const { citations, ...rest } = block;
    events.push(start({ ...rest, text: '', ...(Array.isArray(citations) ? { citations: [] } : {}) }));
    if (block.text !== '') events.push(delta({ type: 'text_delta', text: block.text }));
    for (const citation of citations ?? []) events.push(delta({ type: 'citations_delta', citation }));
  } else if (isBlock(block, 'thinking')) {
    events.push(start({ ...block, thinking: '', signature: '' }));
    if (block.thinking !== '') events.push(delta({ type: 'thinking_delta', thinking: block.thinking }));
    if (block.signature) events.push(delta({ type: 'signature_delta', signature: block.signature }));
  } else if (isBlock(block, 'tool_use') || isBlock(block, 'server_tool_use')) {
    events.push(start({ ...block, input: {} }));
    const json = JSON.stringify(block.input ?? {});
    if (json !== '{}') events.push(delta({ type: 'input_json_delta', partial_json: json }));
  } else {
    // Blocks that arrive whole (redacted thinking, tool results, kinds added later).
    events.push(start(block));
  }
  events.push({ type: 'content_block_stop', index });
  return events;
}

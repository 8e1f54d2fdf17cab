import { ProtocolError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import { type BatchedIterable, batched, batchesOf } from './batches.ts';
import type { SSEEvent } from './sse.ts';

/**
 * Turns SSE events into stream events. Only the shape every consumer relies on is checked
 * here (an object with a string `type`); the assembler checks the rest of what it uses, so
 * the hot path parses each event exactly once.
 */
export function decodeStreamEvents(events: AsyncIterable<SSEEvent>): BatchedIterable<StreamEvent> {
  return batched(async function* () {
    for await (const batch of batchesOf(events)) {
      const out: StreamEvent[] = [];
      for (const sse of batch) {
        const event = parseStreamEvent(sse);
        if (event === undefined) break;
        out.push(event);
      }
      if (out.length > 0) yield out;
    }
  });
}

/**
 * One SSE event as a stream event; `undefined` for an event cut off by the end of the body
 * (the caller stops there, and the missing `message_stop` makes the cut visible).
 */
export function parseStreamEvent(sse: SSEEvent): StreamEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(sse.data);
  } catch {
    if (sse.unterminated) return undefined;
    throw new ProtocolError(
      `The upstream sent an event${sse.event ? ` '${sse.event}'` : ''} whose data is not JSON: ${preview(sse.data)}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError(
      `The upstream sent an event whose data is not a JSON object: ${preview(sse.data)}`,
    );
  }
  const event = parsed as { type?: unknown };
  if (typeof event.type !== 'string') {
    // The `event:` field names the type when the data leaves it out.
    if (sse.event === undefined) {
      throw new ProtocolError(`The upstream sent an event without a type: ${preview(sse.data)}`);
    }
    event.type = sse.event;
  }
  return event as StreamEvent;
}

function preview(text: string): string {
  return text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}…` : JSON.stringify(text);
}

import type { StreamEvent } from '../../protocol/events.ts';
import { encodeSSE } from '../../stream/sse.ts';

/**
 * An answer's events as the simulator's SSE frames, encoded once per cached answer: a load
 * test streams the same answer thousands of times, and encoding each event anew (JSON, the
 * SSE lines, UTF-8) cost more than sending it. Kept as long as the events are (the answer cache).
 */
const encoded = new WeakMap<readonly StreamEvent[], readonly Buffer[]>();

export function anthropicFrames(events: readonly StreamEvent[]): readonly Buffer[] {
  let frames = encoded.get(events);
  if (frames === undefined) {
    frames = events.map(encodeAnthropicFrame);
    encoded.set(events, frames);
  }
  return frames;
}

/** One event as an Anthropic SSE frame: `event:` its type, `data:` its JSON. */
export function encodeAnthropicFrame(event: StreamEvent): Buffer {
  return Buffer.from(encodeSSE({ event: event.type, data: JSON.stringify(event) }), 'utf8');
}

/** The `crlf` fault: the same frame with CRLF line ends. */
export function withCrlf(frame: Buffer): Buffer {
  return Buffer.from(frame.toString('utf8').replaceAll('\n', '\r\n'), 'utf8');
}

import type { StreamEvent } from '../../protocol/events.ts';
import { parseStreamEvent } from '../../stream/decode-events.ts';
import { encodeJsonSSE, SseDecoder } from '../../stream/sse.ts';
import { InvalidLogEntryError } from './errors.ts';
import type { LogEntry } from './types.ts';

const EVENT_END = '\n\n';

/** A batch of events as the log keeps them: the Anthropic SSE text a relay writes, ids from `first`. */
export function encodeBatch(first: number, events: readonly StreamEvent[]): LogEntry {
  let data = '';
  let id = first;
  for (const event of events) data += encodeJsonSSE(id++, event.type, JSON.stringify(event));
  return { first, last: id - 1, data };
}

/**
 * Checks an entry before it is logged: ids in order, and one blank-line-terminated event per
 * id, which is what lets a reader cut a batch after any id without parsing it.
 */
export function checkEntry(entry: LogEntry): void {
  const { first, last, data } = entry;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 1 || last < first) {
    throw new InvalidLogEntryError(`A log entry needs event ids 1 ≤ first ≤ last; got ${first}..${last}.`);
  }
  if (!data.endsWith(EVENT_END) || countEvents(data) !== last - first + 1) {
    throw new InvalidLogEntryError(
      `A log entry for ids ${first}..${last} must hold ${last - first + 1} SSE events, each ending with a blank line.`,
    );
  }
}

/** The entry without its events up to and including id `after` (the whole entry if none are). */
export function entryAfter(entry: LogEntry, after: number): LogEntry {
  if (after < entry.first) return entry;
  let at = 0;
  for (let id = entry.first; id <= after; id++) at = entry.data.indexOf(EVENT_END, at) + EVENT_END.length;
  return { first: after + 1, last: entry.last, data: entry.data.slice(at) };
}

/**
 * The events of entries, decoded: what a taking-over instance rebuilds the partial message
 * from, and what a resume re-encodes into another wire format.
 */
export function decodeEntries(entries: Iterable<LogEntry>): StreamEvent[] {
  const decoder = new SseDecoder();
  const events: StreamEvent[] = [];
  const encoder = new TextEncoder();
  for (const entry of entries) {
    for (const sse of decoder.decode(encoder.encode(entry.data))) {
      const event = parseStreamEvent(sse);
      if (event !== undefined) events.push(event);
    }
  }
  return events;
}

function countEvents(data: string): number {
  let count = 0;
  for (let at = data.indexOf(EVENT_END); at !== -1; at = data.indexOf(EVENT_END, at + EVENT_END.length)) {
    count++;
  }
  return count;
}

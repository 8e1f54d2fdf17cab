import { ProtocolError } from '../protocol/errors.ts';
import { type ContentBlockDeltaEvent, isStreamEvent, type StreamEvent } from '../protocol/events.ts';
import { type BatchedIterable, batched, batchesOf, DONE } from './batches.ts';
import { type ByteSource, byteBatches } from './byte-batches.ts';
import { decodeChunks, type SSEEvent, SseDecoder } from './sse.ts';
import { errorFromTransport } from './transport-error.ts';

/**
 * Turns SSE events into stream events. Only the shape every consumer relies on is checked
 * here (an object with a string `type`); the assembler checks the rest of what it uses, so
 * the hot path parses each event exactly once.
 */
export function decodeStreamEvents(events: AsyncIterable<SSEEvent>): BatchedIterable<StreamEvent> {
  return batched(async function* () {
    for await (const batch of batchesOf(events)) {
      const out = streamEventsOf(batch);
      if (out.length > 0) yield out;
    }
  });
}

/**
 * The stream events of an SSE body, decoded as its chunks arrive, in one stage: a relay
 * waiting on thousands of streams holds one promise per stream here, not one per stage
 * (bytes, SSE, events). A network failure while reading is a `ConnectionError`.
 */
export function sseStreamEvents(
  bytes: ByteSource,
  signal?: AbortSignal,
  cursor?: SseCursor,
): BatchedIterable<StreamEvent> {
  return batched(() => ({ [Symbol.asyncIterator]: () => new StreamEventBatches(bytes, signal, cursor) }));
}

/**
 * Where a reader of an SSE body got to: the `id:` of the last event it was handed, so that a
 * dropped connection can ask a server that numbers its events for the ones after it.
 */
export interface SseCursor {
  lastEventId?: string | undefined;
}

class StreamEventBatches implements AsyncIterator<readonly StreamEvent[]> {
  private readonly chunks: AsyncIterator<readonly Uint8Array[]>;
  private readonly decoder = new SseDecoder();
  private ended = false;
  private readonly cursor: SseCursor | undefined;

  constructor(bytes: ByteSource, signal: AbortSignal | undefined, cursor: SseCursor | undefined) {
    this.cursor = cursor;
    this.chunks = byteBatches(bytes, signal)[Symbol.asyncIterator]();
  }

  next(): Promise<IteratorResult<readonly StreamEvent[]>> {
    if (this.ended) return Promise.resolve(DONE);
    return this.chunks.next().then(this.onChunks, this.onError);
  }

  async return(): Promise<IteratorResult<readonly StreamEvent[]>> {
    this.ended = true;
    await this.chunks.return?.();
    return DONE;
  }

  private readonly onChunks = (
    result: IteratorResult<readonly Uint8Array[]>,
  ): IteratorResult<readonly StreamEvent[]> | Promise<IteratorResult<readonly StreamEvent[]>> => {
    if (result.done) {
      this.ended = true;
      const last = streamEventsOf(this.decoder.finish(), this.cursor);
      return last.length > 0 ? { done: false, value: last } : DONE;
    }
    let events: StreamEvent[];
    try {
      events = streamEventsOf(decodeChunks(this.decoder, result.value), this.cursor);
    } catch (error) {
      // A consumer does not close an iterator whose next() failed: let go of the body here.
      this.ended = true;
      void Promise.resolve(this.chunks.return?.()).catch(() => {});
      throw error;
    }
    // A chunk that completed no event (half of one): wait for the next.
    return events.length > 0 ? { done: false, value: events } : this.next();
  };

  private readonly onError = (error: unknown): never => {
    this.ended = true;
    throw errorFromTransport(error);
  };
}

/**
 * One batch of SSE events as stream events, for callers that fuse decoding into a loop of
 * their own (a provider's): an event cut off by the end of the body ends the batch.
 */
export function streamEventsOf(batch: readonly SSEEvent[], cursor?: SseCursor): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (const sse of batch) {
    const event = parseStreamEvent(sse);
    if (event === undefined) break;
    out.push(event);
    // Only events that were parsed count as read: a cut-off one must be asked for again.
    if (cursor !== undefined && sse.id !== undefined) cursor.lastEventId = sse.id;
  }
  return out;
}

/**
 * One SSE event as a stream event; `undefined` for an event cut off by the end of the body
 * (the caller stops there, and the missing `message_stop` makes the cut visible).
 */
export function parseStreamEvent(sse: SSEEvent): StreamEvent | undefined {
  const fast = plainTextDelta(sse.data);
  if (fast !== undefined) return fast;
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
  if (isStreamEvent(parsed)) return parsed;
  // The `event:` field names the type when the data leaves it out.
  if (sse.event === undefined) {
    throw new ProtocolError(`The upstream sent an event without a type: ${preview(sse.data)}`);
  }
  return { ...parsed, type: sse.event };
}

function preview(text: string): string {
  return text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}…` : JSON.stringify(text);
}

// The API's own compact form of a text delta. Most events of a text stream look exactly like
// this, and reading them without JSON.parse is the largest saving left in decoding.
const TEXT_DELTA_HEAD = '{"type":"content_block_delta","index":';
const TEXT_DELTA_MIDDLE = ',"delta":{"type":"text_delta","text":"';
const TEXT_DELTA_TAIL = '"}}';

/**
 * A text delta in exactly the API's compact form, read by parsing only its text; `undefined`
 * for anything else. When it answers, the answer is what JSON.parse of the whole would give:
 * the text runs from the quote after the fixed head to the quote before the fixed tail, and
 * when that span parses as one JSON string, the whole is that fixed form around it.
 */
export function plainTextDelta(data: string): ContentBlockDeltaEvent | undefined {
  const index = compactDeltaIndex(data);
  if (index === -1) return undefined;
  let text: string;
  try {
    // Parsed rather than sliced out: a slice would keep the whole decoded network chunk
    // alive for as long as the message holds its text.
    text = JSON.parse(data.slice(textStartOf(index) - 1, data.length - TEXT_DELTA_TAIL.length + 1));
  } catch {
    // Not a single string literal (an extra field, a stray quote): the full parse decides.
    return undefined;
  }
  return { type: 'content_block_delta', index, delta: { type: 'text_delta', text } };
}

/**
 * The block index of a text delta in exactly the API's compact form, checked without building
 * its text (a relay that forwards the event as it came needs only to know it is well formed);
 * -1 for anything else. Where `plainTextDelta` answers, this answers its index.
 */
export function plainTextDeltaIndex(data: string): number {
  const index = compactDeltaIndex(data);
  if (index === -1) return -1;
  return isJsonStringBody(data, textStartOf(index), data.length - TEXT_DELTA_TAIL.length) ? index : -1;
}

/**
 * A text delta in the API's compact form as its block index and its text's JSON string literal,
 * quotes included, as it came (not decoded); undefined for anything else.
 */
export function plainTextDeltaLiteral(data: string): { index: number; literal: string } | undefined {
  const index = plainTextDeltaIndex(data);
  if (index === -1) return undefined;
  return { index, literal: data.slice(textStartOf(index) - 1, data.length - TEXT_DELTA_TAIL.length + 1) };
}

/** The index of data shaped as a compact text delta (head, digits, middle, tail; the text not checked); -1 if not. */
function compactDeltaIndex(data: string): number {
  if (!data.startsWith(TEXT_DELTA_HEAD) || !data.endsWith(TEXT_DELTA_TAIL)) return -1;
  const digitsStart = TEXT_DELTA_HEAD.length;
  let end = digitsStart;
  let index = 0;
  while (end < data.length && end - digitsStart < 9) {
    const code = data.charCodeAt(end);
    if (code < 48 || code > 57) break;
    index = index * 10 + (code - 48);
    end++;
  }
  const digits = end - digitsStart;
  // JSON has no leading zeros; longer indices are left to JSON.parse.
  if (digits === 0 || (digits > 1 && data.charCodeAt(digitsStart) === 48)) return -1;
  if (!data.startsWith(TEXT_DELTA_MIDDLE, end)) return -1;
  // The text's literal must fit between the middle's quote and the tail's.
  if (data.length - TEXT_DELTA_TAIL.length < end + TEXT_DELTA_MIDDLE.length) return -1;
  return index;
}

/** Where the text of a compact delta into block `index` starts (after its opening quote). */
function textStartOf(index: number): number {
  let digits = 1;
  for (let rest = index; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return TEXT_DELTA_HEAD.length + digits + TEXT_DELTA_MIDDLE.length;
}

const HEX = /^[0-9a-fA-F]{4}$/;

/** Whether `text[start, end)` is the inside of one JSON string literal: no bare quote, control character or bad escape. */
function isJsonStringBody(text: string, start: number, end: number): boolean {
  for (let at = start; at < end; at++) {
    const code = text.charCodeAt(at);
    if (code === 34 || code < 32) return false;
    if (code !== 92) continue;
    if (++at >= end) return false;
    const escaped = text.charCodeAt(at);
    if (escaped === 117) {
      if (at + 4 >= end || !HEX.test(text.slice(at + 1, at + 5))) return false;
      at += 4;
    } else if (!SIMPLE_ESCAPES.has(escaped)) {
      return false;
    }
  }
  return true;
}

// " \ / b f n r t
const SIMPLE_ESCAPES = new Set([34, 92, 47, 98, 102, 110, 114, 116]);

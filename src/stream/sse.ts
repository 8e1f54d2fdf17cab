import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { type BatchedIterable, batched } from './batches.ts';

export interface SSEEvent {
  event?: string | undefined;
  data: string;
  id?: string | undefined;
  /**
   * True for an event the server never terminated with a blank line before the body ended.
   * It is still delivered (the official SDK drops it), and a consumer that cannot parse it
   * knows the body was cut rather than malformed.
   */
  unterminated?: boolean;
}

export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** Yields the chunks of a byte source, cancelling a ReadableStream if the consumer stops early. */
async function* chunksOf(source: ByteSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (!(source instanceof ReadableStream)) {
    yield* source;
    return;
  }
  const reader = source.getReader();
  let finished = false;
  // A pending read() does not see an abort by itself; cancelling the reader ends it at once.
  const cancel = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    // Early exit (break, throw, abort): release the socket instead of leaving it half-read.
    signal?.removeEventListener('abort', cancel);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Decodes a byte stream of Server-Sent Events. Handles LF, CR and CRLF line ends (split
 * across chunks too), comments, multi-line `data:`, UTF-8 characters split across chunks,
 * and a final event without its trailing blank line. Batched: the events of one chunk
 * come as one batch.
 */
export function decodeSSE(
  source: ByteSource,
  options: { signal?: AbortSignal } = {},
): BatchedIterable<SSEEvent> {
  return batched(async function* () {
    const decoder = new TextDecoder('utf-8');
    let ready: SSEEvent[] = [];
    // The parser's own event object is handed on as is: a copy per event is measurable garbage.
    const parser = createParser({ onEvent: (message: EventSourceMessage) => ready.push(message) });
    // Hands over what the parser completed as a fresh array.
    const take = (): SSEEvent[] => {
      const events = ready;
      ready = [];
      return events;
    };

    for await (const chunk of chunksOf(source, options.signal)) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (ready.length > 0) yield take();
    }
    parser.feed(decoder.decode());
    if (ready.length > 0) yield take();

    // Two line ends close an open line and then an open event, whatever line end came last; if
    // nothing was open they are blank lines and dispatch nothing.
    parser.feed('\n\n');
    const last = take().map((event) => ({ ...event, unterminated: true }));
    if (last.length > 0) yield last;
  });
}

/** Encodes one event for the wire; multi-line data becomes several `data:` lines. */
export function encodeSSE(event: SSEEvent): string {
  let out = '';
  if (event.id !== undefined) out += `id: ${singleLine(event.id, 'id')}\n`;
  if (event.event !== undefined) out += `event: ${singleLine(event.event, 'event')}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** An SSE comment line, used for keep-alives that must not reach the consumer as events. */
export function encodeSSEComment(text = ''): string {
  return `: ${singleLine(text, 'comment')}\n\n`;
}

function singleLine(value: string, field: string): string {
  if (/[\r\n]/.test(value)) throw new TypeError(`An SSE ${field} cannot contain a line break.`);
  return value;
}

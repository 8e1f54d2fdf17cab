import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { type BatchedIterable, batched } from './batches.ts';
import { type ByteSource, byteBatches } from './byte-batches.ts';

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

const NO_EVENTS: readonly SSEEvent[] = Object.freeze([]);

/**
 * The pure half of SSE decoding: bytes in, completed events out. Handles LF, CR and CRLF
 * line ends (split across chunks too), comments, multi-line `data:`, and UTF-8 characters
 * split across chunks.
 */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private ready: SSEEvent[] = [];
  // The parser's own event object is handed on as is: a copy per event is measurable garbage.
  private readonly parser = createParser({
    onEvent: (message: EventSourceMessage) => this.ready.push(message),
  });

  /** The events a chunk completed (often none or one). */
  decode(chunk: Uint8Array): readonly SSEEvent[] {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    return this.take();
  }

  /**
   * The body ended: what is left, with an event the server never terminated with a blank
   * line marked `unterminated` (it is still delivered; the official SDK drops it).
   */
  finish(): SSEEvent[] {
    this.parser.feed(this.decoder.decode());
    const complete = [...this.take()];
    // Two line ends close an open line and then an open event, whatever line end came last;
    // if nothing was open they are blank lines and dispatch nothing.
    this.parser.feed('\n\n');
    for (const event of this.take()) complete.push({ ...event, unterminated: true });
    return complete;
  }

  /** Hands over what the parser completed; read-only when empty (no array per call). */
  private take(): readonly SSEEvent[] {
    const events = this.ready;
    if (events.length === 0) return NO_EVENTS;
    this.ready = [];
    return events;
  }
}

/**
 * Decodes a byte stream of Server-Sent Events (see `SseDecoder`). Batched: the events of
 * the chunks that arrived together come as one batch.
 */
export function decodeSSE(
  source: ByteSource,
  options: { signal?: AbortSignal } = {},
): BatchedIterable<SSEEvent> {
  return batched(async function* () {
    const decoder = new SseDecoder();
    for await (const chunks of byteBatches(source, options.signal)) {
      const events = decodeChunks(decoder, chunks);
      if (events.length > 0) yield events;
    }
    const last = decoder.finish();
    if (last.length > 0) yield last;
  });
}

/** The events completed by a batch of chunks, in order. */
export function decodeChunks(decoder: SseDecoder, chunks: readonly Uint8Array[]): readonly SSEEvent[] {
  if (chunks.length === 1) return decoder.decode(chunks[0]!);
  const events: SSEEvent[] = [];
  for (const chunk of chunks) for (const event of decoder.decode(chunk)) events.push(event);
  return events;
}

/** Encodes one event for the wire; multi-line data becomes several `data:` lines. */
export function encodeSSE(event: SSEEvent): string {
  let out = '';
  if (event.id !== undefined) out += `id: ${singleLine(event.id, 'id')}\n`;
  if (event.event !== undefined) out += `event: ${singleLine(event.event, 'event')}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * One event whose data is JSON text: `JSON.stringify` never writes a line break, so the data
 * needs none of the splitting `encodeSSE` does for arbitrary text (a relay writes one of these
 * per token).
 */
export function encodeJsonSSE(id: number, event: string, json: string): string {
  return `id: ${id}\nevent: ${singleLine(event, 'event')}\ndata: ${json}\n\n`;
}

/** An SSE comment line, used for keep-alives that must not reach the consumer as events. */
export function encodeSSEComment(text = ''): string {
  return `: ${singleLine(text, 'comment')}\n\n`;
}

function singleLine(value: string, field: string): string {
  if (/[\r\n]/.test(value)) throw new TypeError(`An SSE ${field} cannot contain a line break.`);
  return value;
}

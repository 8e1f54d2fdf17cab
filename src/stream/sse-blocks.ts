/**
 * One SSE event as a relay that passes bytes through sees it: its `event:` name, its data,
 * and its text, which a relay may forward as it is when `canonical` (exactly
 * `event: <name>\ndata: <data>`, the form Anthropic's API sends and the stream log keeps).
 */
export interface SseBlock {
  event: string | undefined;
  data: string;
  /** The block's lines without the blank line that ended it (line ends made LF). */
  text: string;
  canonical: boolean;
  /** The body ended before the blank line that would have ended this event. */
  unterminated: boolean;
}

const LF = 10;
const CR = '\r';

/** Where the splitter notes the `id:` of the last complete event that had one. */
interface IdSink {
  lastEventId: string | undefined;
}

/**
 * Splits decoded SSE text into events with one `indexOf` per event, for a relay that forwards
 * most events as they came. It reads what `SseDecoder` (eventsource-parser) reads: CR, LF and
 * CRLF line ends (split across chunks too), comments, several `data:` lines, a field without a
 * colon; `retry:` is dropped, and so is `id:` from the events (a relay numbers events itself),
 * but the last one is kept in `lastEventId`: where to reattach to a Sluice gateway's stream.
 * An `id:` line before the API's own form (a Sluice gateway's events) leaves it canonical.
 * Pure: text in, events out.
 */
export class SseBlockSplitter implements IdSink {
  private pending = '';
  private afterCarriageReturn = false;
  /**
   * The `id:` of the last complete event (its blank line seen) that had one; an event the body
   * cut off does not count, since it must be asked for again. Set only when an id line comes.
   */
  lastEventId: string | undefined;

  /** Appends the events completed by `text` to `out`. */
  push(text: string, out: SseBlock[]): void {
    if (this.afterCarriageReturn && text.charCodeAt(0) === LF) text = text.slice(1);
    this.afterCarriageReturn = false;
    if (text === '') return;
    // A CR that ends a chunk may be half of a CRLF: it becomes an LF now, and an LF opening
    // the next chunk is dropped then.
    this.afterCarriageReturn = text.endsWith(CR);
    if (text.includes(CR)) text = text.replace(/\r\n?/g, '\n');
    let buffer = this.pending === '' ? text : this.pending + text;
    let start = 0;
    while (true) {
      const end = buffer.indexOf('\n\n', start);
      if (end === -1) break;
      const block = parseBlock(buffer, start, end, false, this);
      if (block !== undefined) out.push(block);
      start = end + 2;
    }
    if (start > 0) buffer = buffer.slice(start);
    this.pending = buffer;
  }

  /**
   * Forgets a half-received event: the body broke off, and a new one (a reattach) replays it
   * whole. `lastEventId` stays: it is where the new body starts.
   */
  reset(): void {
    this.pending = '';
    this.afterCarriageReturn = false;
  }

  /** The body ended: an event it cut off before its blank line, if any. */
  finish(out: SseBlock[]): void {
    const rest = this.pending;
    this.pending = '';
    const trimmed = rest.endsWith('\n') ? rest.slice(0, -1) : rest;
    if (trimmed === '') return;
    const block = parseBlock(trimmed, 0, trimmed.length, true, this);
    if (block !== undefined) out.push(block);
  }
}

/** The event of the lines `buffer[start, end)`; undefined for one without data (comments only). */
function parseBlock(
  buffer: string,
  start: number,
  end: number,
  unterminated: boolean,
  ids: IdSink,
): SseBlock | undefined {
  // Blank lines left over before the event (three line ends in a row) dispatch nothing.
  while (start < end && buffer.charCodeAt(start) === LF) start++;
  if (start === end) return undefined;
  // A Sluice gateway's form: `id: <n>` before the API's two lines, which stay canonical.
  let from = start;
  if (buffer.startsWith('id: ', start)) {
    const idEnd = buffer.indexOf('\n', start);
    if (idEnd !== -1 && idEnd < end && buffer.startsWith('event: ', idEnd + 1)) from = idEnd + 1;
  }
  if (buffer.startsWith('event: ', from)) {
    const text = buffer.slice(from, end);
    const lineEnd = text.indexOf('\n');
    if (lineEnd > 0 && text.startsWith('data: ', lineEnd + 1) && text.indexOf('\n', lineEnd + 1) === -1) {
      const event = text.slice(7, lineEnd);
      // Either field repeated on a line of its own would have failed the checks above.
      if (event !== '') {
        if (from !== start && !unterminated) ids.lastEventId = buffer.slice(start + 4, from - 1);
        return { event, data: text.slice(lineEnd + 7), text, canonical: true, unterminated };
      }
    }
  }
  return parseFields(buffer.slice(start, end), unterminated, ids);
}

/** Any other event, field by field, as the SSE specification reads it. */
function parseFields(text: string, unterminated: boolean, ids: IdSink): SseBlock | undefined {
  let event: string | undefined;
  let data: string | undefined;
  let id: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    // The specification ignores an id with a NUL in it.
    else if (field === 'id' && !value.includes('\0')) id = value;
  }
  if (id !== undefined && !unterminated) ids.lastEventId = id;
  if (data === undefined) return undefined;
  return { event: event === '' ? undefined : event, data, text, canonical: false, unterminated };
}

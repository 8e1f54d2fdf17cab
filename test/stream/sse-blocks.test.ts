import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseDecoder } from '../../src/stream/sse.ts';
import { type SseBlock, SseBlockSplitter } from '../../src/stream/sse-blocks.ts';

/** What both readers agree an event is: its name and its data. */
function fieldsOf(events: readonly { event?: string | undefined; data: string }[]) {
  return events.map((event) => ({ event: event.event || undefined, data: event.data }));
}

function split(chunks: readonly string[]): SseBlock[] {
  const splitter = new SseBlockSplitter();
  const out: SseBlock[] = [];
  for (const chunk of chunks) splitter.push(chunk, out);
  splitter.finish(out);
  return out;
}

function reference(text: string) {
  const decoder = new SseDecoder();
  return [...decoder.decode(new TextEncoder().encode(text)), ...decoder.finish()];
}

/** Cuts `text` at the given places (any place, a CRLF's middle and a surrogate pair's too: it is text). */
function cut(text: string, places: number[]): string[] {
  const at = [...new Set(places.map((place) => place % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const place of [...at, text.length]) {
    chunks.push(text.slice(from, place));
    from = place;
  }
  return chunks;
}

const value = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', 'é', '{', '"', '\u2028') });
const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
const line = fc.oneof(
  value.map((text) => `data: ${text}`),
  value.map((text) => `data:${text}`),
  value.map((text) => `event: ${text.replace(/[\r\n]/g, '')}`),
  value.map((text) => `: ${text}`),
  value.map((text) => `id: ${text}`),
  fc.constant('data'),
  fc.constant('retry: 10'),
);
/** Any SSE text: events of any lines, any line ends, blank lines between, maybe cut off at the end. */
const sseText = fc
  .tuple(
    fc.array(fc.tuple(fc.array(line, { minLength: 1, maxLength: 4 }), lineEnd), { maxLength: 8 }),
    fc.boolean(),
  )
  .map(([events, cutOff]) => {
    const text = events.map(([lines, end]) => `${lines.join(end)}${end}${end}`).join('');
    return cutOff ? text.replace(/(\r\n|\r|\n)+$/, '') : text;
  });

describe('SseBlockSplitter', () => {
  it('reads what the SSE decoder reads, however the text is cut into chunks (property)', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 6 }), (text, places) => {
        expect(fieldsOf(split(cut(text, places)))).toEqual(fieldsOf(reference(text)));
      }),
      { numRuns: 500 },
    );
  });

  it('marks the API’s own form canonical and keeps its text as it came', () => {
    const [block] = split(['event: content_block_delta\ndata: {"type":"x"}\n\n']);
    expect(block).toEqual({
      event: 'content_block_delta',
      data: '{"type":"x"}',
      text: 'event: content_block_delta\ndata: {"type":"x"}',
      canonical: true,
      unterminated: false,
    });
  });

  it('does not take other forms for canonical: data first, two data lines, an id after, no space', () => {
    for (const text of [
      'data: {}\nevent: x\n\n',
      'event: x\ndata: a\ndata: b\n\n',
      'event: x\nid: 3\ndata: {}\n\n',
      'id: 3\nevent: x\ndata: a\ndata: b\n\n',
      'event:x\ndata: {}\n\n',
      'event: x\ndata:{}\n\n',
    ]) {
      expect(split([text])[0]?.canonical, text).toBe(false);
    }
  });

  it('a Sluice gateway’s event (an id line, then the API’s form) is canonical, its text without the id', () => {
    const [block] = split(['id: 7\nevent: ping\ndata: {"type":"ping"}\n\n']);
    expect(block).toEqual({
      event: 'ping',
      data: '{"type":"ping"}',
      text: 'event: ping\ndata: {"type":"ping"}',
      canonical: true,
      unterminated: false,
    });
  });

  it('keeps the id of the last complete event that had one, not of one cut off', () => {
    const splitter = new SseBlockSplitter();
    const out: SseBlock[] = [];
    expect(splitter.lastEventId).toBeUndefined();
    splitter.push('id: 1\nevent: a\ndata: {}\n\nid: 2\nevent: b\ndata: {}\n\nid: 3\nevent: c\nda', out);
    expect(splitter.lastEventId).toBe('2');
    // An event without an id keeps the last one; any other form of id line counts too.
    splitter.push('ta: {}\n\nevent: d\ndata: {}\n\ndata: {}\nid:9\n\n', out);
    expect(splitter.lastEventId).toBe('9');
    splitter.push('id: 10\nevent: e\ndata: {}', out);
    splitter.finish(out);
    expect(out.map((block) => block.event)).toEqual(['a', 'b', 'c', 'd', undefined, 'e']);
    expect(splitter.lastEventId).toBe('9');
  });

  it('an event the body cut off before its blank line is delivered, marked unterminated', () => {
    const blocks = split(['event: message_stop\ndata: {"type":"message_stop"}']);
    expect(blocks).toMatchObject([{ event: 'message_stop', unterminated: true, canonical: true }]);
  });

  it('a CR at the end of one chunk and an LF at the start of the next are one line end', () => {
    const blocks = split(['event: a\r\ndata: 1\r', '\n', '\nevent: b\r\ndata: 2\r', '\n\r', '\n']);
    expect(fieldsOf(blocks)).toEqual([
      { event: 'a', data: '1' },
      { event: 'b', data: '2' },
    ]);
  });
});

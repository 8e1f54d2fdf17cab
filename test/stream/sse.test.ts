import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSSE,
  encodeJsonSSE,
  encodeSSE,
  encodeSSEComment,
  type SSEEvent,
  SseDecoder,
} from '../../src/stream/sse.ts';
import {
  COMPLETE_FIXTURES,
  encoder,
  fixture,
  iterableOf,
  readableOf,
  splitAt,
  splitEvery,
} from '../helpers/bytes.ts';

async function decodeAll(chunks: Uint8Array[], asReadable = false): Promise<SSEEvent[]> {
  const events: SSEEvent[] = [];
  for await (const event of decodeSSE(asReadable ? readableOf(chunks) : iterableOf(chunks)))
    events.push(event);
  return events;
}

const text = (s: string) => [encoder.encode(s)];

describe('decodeSSE', () => {
  it('decodes event, data and id fields', async () => {
    const events = await decodeAll(text('id: 7\nevent: ping\ndata: {"type":"ping"}\n\n'));
    expect(events).toEqual([{ id: '7', event: 'ping', data: '{"type":"ping"}' }]);
  });

  it('accepts LF, CR and CRLF line ends alike', async () => {
    const lf = await decodeAll([fixture('text.sse')]);
    expect(await decodeAll([fixture('text-crlf.sse')])).toEqual(lf);
    expect(await decodeAll([fixture('text-cr.sse')])).toEqual(lf);
    expect(lf).toHaveLength(9);
  });

  it('skips comments and retry fields', async () => {
    const events = await decodeAll(text(': keep-alive\nretry: 100\n\n:x\ndata: a\n\n'));
    expect(events).toEqual([{ data: 'a' }]);
  });

  it('joins multi-line data with line feeds', async () => {
    const events = await decodeAll(text('data: one\ndata: two\r\ndata:three\n\n'));
    expect(events).toEqual([{ data: 'one\ntwo\nthree' }]);
  });

  it('reassembles a multi-byte character split across chunks', async () => {
    const bytes = encoder.encode('data: 🐕 café 日本\n\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(await decodeAll(splitAt(bytes, [cut]))).toEqual([{ data: '🐕 café 日本' }]);
    }
  });

  it('delivers a final event that lacks its blank line, marked unterminated', async () => {
    expect(await decodeAll(text('data: a\n\ndata: last\n'))).toEqual([
      { data: 'a' },
      { data: 'last', unterminated: true },
    ]);
    expect(await decodeAll(text('data: last'))).toEqual([{ data: 'last', unterminated: true }]);
    expect(await decodeAll(text('data: last\r'))).toEqual([{ data: 'last', unterminated: true }]);
  });

  it('delivers nothing extra after a properly terminated stream', async () => {
    expect(await decodeAll(text('data: a\r\n\r\n'))).toEqual([{ data: 'a' }]);
    expect(await decodeAll(text('data: a\n\n\n'))).toEqual([{ data: 'a' }]);
  });

  it('reads a fetch-style ReadableStream and an async iterable the same way', async () => {
    const chunks = splitEvery(fixture('tool-use.sse'), 7);
    expect(await decodeAll(chunks, true)).toEqual(await decodeAll(chunks));
  });

  it('cancels the ReadableStream when the consumer stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(encoder.encode('data: x\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of decodeSSE(body)) {
      expect(event.data).toBe('x');
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('ends a pending read at once when its signal aborts', async () => {
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const reading = (async () => {
      for await (const _ of decodeSSE(body, { signal: controller.signal })) {
        // no event ever arrives
      }
    })();
    controller.abort();
    await expect(reading).resolves.toBeUndefined();
  });

  it('gives the same events for any chunking of any fixture (property)', async () => {
    const names = [...COMPLETE_FIXTURES, 'error-event.sse', 'cut-before-stop.sse'];
    for (const name of names) {
      const bytes = fixture(name);
      const whole = await decodeAll([bytes]);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 48 }),
          async (cuts) => {
            expect(await decodeAll(splitAt(bytes, cuts))).toEqual(whole);
          },
        ),
        { numRuns: 60 },
      );
      expect(await decodeAll(splitEvery(bytes, 1))).toEqual(whole);
    }
  });
});

describe('encodeSSE', () => {
  it('writes id, event and data, splitting multi-line data', () => {
    expect(encodeSSE({ id: '3', event: 'x', data: 'a\nb' })).toBe('id: 3\nevent: x\ndata: a\ndata: b\n\n');
    expect(encodeSSEComment('ping')).toBe(': ping\n\n');
  });

  it('round-trips through the decoder', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          event: fc.option(fc.stringMatching(/^[a-z_]{1,12}$/), { nil: undefined }),
          id: fc.option(fc.stringMatching(/^[0-9]{1,6}$/), { nil: undefined }),
          data: fc.string({ unit: 'grapheme' }).map((s) => s.replace(/\r\n?/g, '\n')),
        }),
        async (event) => {
          const decoded = await decodeAll(text(encodeSSE(event)));
          const expected: SSEEvent = { data: event.data };
          if (event.event !== undefined) expected.event = event.event;
          if (event.id !== undefined) expected.id = event.id;
          expect(decoded).toEqual([expected]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a line break in a single-line field', () => {
    expect(() => encodeSSE({ event: 'a\nb', data: '' })).toThrow(/line break/);
    expect(() => encodeJsonSSE(1, 'a\rb', '{}')).toThrow(/line break/);
  });

  it('writes JSON data on one line, as the general encoder would (property)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.stringMatching(/^[a-z_]{1,12}$/), fc.jsonValue(), (id, event, value) => {
        const json = JSON.stringify(value) ?? 'null';
        expect(encodeJsonSSE(id, event, json)).toBe(encodeSSE({ id: String(id), event, data: json }));
      }),
      { numRuns: 200 },
    );
  });
});

describe('SseDecoder', () => {
  it('returns what each chunk completed and, at the end, the unterminated rest', () => {
    const decoder = new SseDecoder();
    expect(decoder.decode(encoder.encode('data: a\n\ndata: b'))).toEqual([
      { id: undefined, event: undefined, data: 'a' },
    ]);
    expect(decoder.decode(encoder.encode('c\n'))).toEqual([]);
    expect(decoder.finish()).toEqual([{ id: undefined, event: undefined, data: 'bc', unterminated: true }]);
  });
});

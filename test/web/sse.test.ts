import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

// The page's SSE parser (web/sse.js), a plain browser module, run here on Node's web streams.
const { readSse } = (await import(new URL('../../web/sse.js', import.meta.url).href)) as {
  readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent>;
};

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function parse(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of readSse(streamOf(chunks))) events.push(event);
  return events;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

const line = fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', ' ', ':', 'x', '{', '"') });
const sseEvent = fc.record({
  id: fc.option(fc.integer({ min: 1, max: 10_000 }).map(String), { nil: undefined }),
  event: fc.constantFrom('message_start', 'content_block_delta', 'ping', 'message_stop'),
  lines: fc.array(line, { minLength: 1, maxLength: 3 }),
});

describe("the page's SSE parser", () => {
  it('gives the same events however the bytes are chunked and whatever the line ends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(sseEvent, { maxLength: 6 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        async (events, end, offsets, comments) => {
          let text = comments ? `: ping${end}` : '';
          for (const event of events) {
            if (event.id !== undefined) text += `id: ${event.id}${end}`;
            text += `event: ${event.event}${end}`;
            for (const data of event.lines) text += `data: ${data}${end}`;
            text += end;
          }
          const bytes = new TextEncoder().encode(text);
          const expected = events.map((event) => ({
            id: event.id,
            event: event.event,
            data: event.lines.join('\n'),
          }));
          expect(await parse(cut(bytes, offsets))).toEqual(expected);
          expect(await parse([bytes])).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not dispatch an event cut short by the end of the body, as EventSource does not', async () => {
    const bytes = new TextEncoder().encode('id: 1\nevent: a\ndata: whole\n\nid: 2\nevent: b\ndata: cut');
    expect(await parse([bytes])).toEqual([{ id: '1', event: 'a', data: 'whole' }]);
  });
});

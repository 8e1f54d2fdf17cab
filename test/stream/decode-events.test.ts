import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionError, ProtocolError } from '../../src/protocol/errors.ts';
import { batchesOf } from '../../src/stream/batches.ts';
import {
  decodeStreamEvents,
  parseStreamEvent,
  plainTextDelta,
  sseStreamEvents,
} from '../../src/stream/decode-events.ts';
import { decodeSSE } from '../../src/stream/sse.ts';
import { COMPLETE_FIXTURES, encoder, fixture, iterableOf, splitAt } from '../helpers/bytes.ts';

const delta = (index: number, text: string) =>
  JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });

describe('parseStreamEvent', () => {
  it('parses events and takes the type from the event field when the data lacks it', () => {
    expect(parseStreamEvent({ data: '{"type":"ping"}' })).toEqual({ type: 'ping' });
    expect(parseStreamEvent({ event: 'ping', data: '{}' })).toEqual({ type: 'ping' });
  });

  it('rejects data that is not a JSON object, naming the event', () => {
    expect(() => parseStreamEvent({ event: 'message_start', data: '{"type":' })).toThrow(ProtocolError);
    expect(() => parseStreamEvent({ event: 'message_start', data: '{"type":' })).toThrow(/'message_start'/);
    expect(() => parseStreamEvent({ data: '[1]' })).toThrow(/not a JSON object/);
    expect(() => parseStreamEvent({ data: '{"no":"type"}' })).toThrow(/without a type/);
  });

  it('an event cut off by the end of the body is undefined, not an error', () => {
    expect(parseStreamEvent({ data: '{"type":"content_blo', unterminated: true })).toBeUndefined();
  });
});

describe('the plain text delta fast path', () => {
  it('reads the API’s compact form and leaves anything else to JSON.parse', () => {
    expect(plainTextDelta(delta(0, 'Hello'))).toEqual({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'Hello' },
    });
    expect(plainTextDelta(delta(12, 'naïve café — 日本語 🐕'))).toEqual(
      JSON.parse(delta(12, 'naïve café — 日本語 🐕')),
    );
    expect(plainTextDelta(delta(3, 'line\nbreak, a "quote", a back\\slash'))).toEqual(
      JSON.parse(delta(3, 'line\nbreak, a "quote", a back\\slash')),
    );
    for (const other of [
      '{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"x"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"},"extra":1}',
      '{"index":0,"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}} ',
    ]) {
      expect(plainTextDelta(other)).toBeUndefined();
    }
  });

  it('agrees with JSON.parse for any text and index (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat(2 ** 31), (text, index) => {
        const data = delta(index, text);
        const parsed = parseStreamEvent({ data });
        expect(parsed).toEqual(JSON.parse(data));
        const fast = plainTextDelta(data);
        if (fast !== undefined) expect(fast).toEqual(JSON.parse(data));
      }),
      { numRuns: 2000 },
    );
  });

  it('never answers for text JSON.parse would reject or read differently (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat(999), (raw, index) => {
        const data = `{"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":"${raw}"}}`;
        const fast = plainTextDelta(data);
        let parsed: unknown;
        try {
          parsed = JSON.parse(data);
        } catch {
          expect(fast).toBeUndefined();
          return;
        }
        if (fast !== undefined) expect(fast).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sseStreamEvents', () => {
  const sse = (data: string) => encoder.encode(`event: x\ndata: ${data}\n\n`);

  it('decodes a Node stream chunk by chunk, waiting out a chunk that completes no event', async () => {
    const body = new PassThrough();
    const iterator = batchesOf(sseStreamEvents(body))[Symbol.asyncIterator]();
    const first = iterator.next();
    const whole = sse(delta(0, 'hi'));
    body.write(whole.subarray(0, 10));
    body.write(whole.subarray(10));
    expect((await first).value).toEqual([JSON.parse(delta(0, 'hi'))]);
    body.end(sse('{"type":"message_stop"}'));
    expect((await iterator.next()).value).toEqual([{ type: 'message_stop' }]);
    expect((await iterator.next()).done).toBe(true);
  });

  it('gives the same events as the staged decoders for any chunking (property)', async () => {
    for (const name of COMPLETE_FIXTURES) {
      const bytes = fixture(name);
      const staged: unknown[] = [];
      for await (const event of decodeStreamEvents(decodeSSE(iterableOf([bytes])))) staged.push(event);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 24 }),
          async (cuts) => {
            const events: unknown[] = [];
            for await (const event of sseStreamEvents(
              Readable.from(splitAt(bytes, cuts), { objectMode: false }),
            ))
              events.push(event);
            expect(events).toEqual(staged);
          },
        ),
        { numRuns: 30 },
      );
    }
  });

  it('reports a connection reset mid-body as a ConnectionError', async () => {
    const body = new PassThrough();
    const iterator = batchesOf(sseStreamEvents(body))[Symbol.asyncIterator]();
    const pending = iterator.next();
    body.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(pending).rejects.toBeInstanceOf(ConnectionError);
  });

  it('destroys the body when the consumer leaves early', async () => {
    const body = new PassThrough();
    body.write(sse('{"type":"ping"}'));
    for await (const _event of sseStreamEvents(body)) break;
    expect(body.destroyed).toBe(true);
  });
});

describe('sseStreamEvents on a malformed event', () => {
  it('fails with a ProtocolError and lets go of the body', async () => {
    const body = new PassThrough();
    body.write(encoder.encode('event: x\ndata: {"type":\n\n'));
    const iterator = batchesOf(sseStreamEvents(body))[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(ProtocolError);
    expect(body.destroyed).toBe(true);
  });
});

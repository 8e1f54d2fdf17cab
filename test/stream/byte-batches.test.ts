import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteBatches } from '../../src/stream/byte-batches.ts';
import { decodeSSE, type SSEEvent } from '../../src/stream/sse.ts';
import { COMPLETE_FIXTURES, encoder, fixture, iterableOf, splitAt } from '../helpers/bytes.ts';

const bytes = (s: string) => encoder.encode(s);
const textOf = (batch: readonly Uint8Array[]) => batch.map((chunk) => Buffer.from(chunk).toString()).join('');

async function collect(source: AsyncIterable<readonly Uint8Array[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of source) out.push(textOf(batch));
  return out;
}

describe('byteBatches over a Node stream', () => {
  it('hands over what arrived while nobody asked as one batch, then waits for more', async () => {
    const stream = new PassThrough();
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    stream.write('a');
    stream.write('b');
    // Both chunks are queued before the first next(): one batch of two.
    await new Promise((resolve) => setImmediate(resolve));
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(first.value).toHaveLength(2);
    expect(textOf(first.value as Uint8Array[])).toBe('ab');
    const pending = iterator.next();
    stream.end('c');
    expect(textOf((await pending).value as Uint8Array[])).toBe('c');
    expect((await iterator.next()).done).toBe(true);
  });

  it('delivers every chunk, in order, for any chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 30 }),
        async (parts) => {
          const stream = Readable.from(parts.map(bytes), { objectMode: false });
          expect((await collect(byteBatches(stream))).join('')).toBe(parts.join(''));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stops reading while the consumer lags: the queue stays bounded', async () => {
    const stream = new PassThrough({ highWaterMark: 1024 });
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    const chunk = Buffer.alloc(16 * 1024, 1);
    // Write until the stream itself refuses more: the reader has paused it.
    let accepted = 0;
    while (stream.write(chunk)) {
      accepted++;
      expect(accepted).toBeLessThan(64);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(stream.isPaused()).toBe(true);
    const batch = await iterator.next();
    const queued = (batch.value as Uint8Array[]).reduce((sum, c) => sum + c.byteLength, 0);
    expect(queued).toBeLessThanOrEqual(64 * 1024);
    // Taking the batch lets the stream flow again.
    expect(stream.isPaused()).toBe(false);
    await iterator.return?.();
  });

  it('delivers the data that arrived before an error, then the error', async () => {
    const stream = new PassThrough();
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    stream.write('kept');
    await new Promise((resolve) => setImmediate(resolve));
    stream.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(textOf((await iterator.next()).value as Uint8Array[])).toBe('kept');
    await expect(iterator.next()).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects a pending wait when the stream is destroyed without an error: a cut body is not an end', async () => {
    const stream = new PassThrough();
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    const pending = iterator.next();
    stream.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('destroys the stream and ends a pending wait when the consumer leaves early', async () => {
    const stream = new PassThrough();
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(stream.destroyed).toBe(true);
  });

  it('survives an error after the consumer left (no unhandled error event)', async () => {
    const stream = new PassThrough();
    const iterator = byteBatches(stream)[Symbol.asyncIterator]();
    stream.write('x');
    await iterator.next();
    await iterator.return?.();
    stream.emit('error', new Error('late'));
    expect(stream.destroyed).toBe(true);
  });
});

describe('decodeSSE over a Node stream', () => {
  it('gives the same events as over an async iterable, for any chunking (property)', async () => {
    for (const name of COMPLETE_FIXTURES) {
      const whole = fixture(name);
      const expected: SSEEvent[] = [];
      for await (const event of decodeSSE(iterableOf([whole]))) expected.push(event);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: whole.length }), { maxLength: 32 }),
          async (cuts) => {
            const stream = Readable.from(splitAt(whole, cuts), { objectMode: false });
            const events: SSEEvent[] = [];
            for await (const event of decodeSSE(stream)) events.push(event);
            expect(events).toEqual(expected);
          },
        ),
        { numRuns: 40 },
      );
    }
  });
});

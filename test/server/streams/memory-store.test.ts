import { describe, expect, it } from 'vitest';
import { MemoryStreamLog } from '../../../src/server/streams/index.ts';
import { batch, describeStreamLogContract, newStream } from './contract.ts';

describeStreamLogContract('memory', async (options) => {
  const log = new MemoryStreamLog(options);
  return { a: log, b: log, close: () => log.close() };
});

describe('the memory stream log', () => {
  it('frees an expired stream from memory by its sweep, without anyone asking for it', async () => {
    const log = new MemoryStreamLog({ ttlSeconds: 0.2 });
    const lease = await log.create(newStream());
    await log.append(lease, batch(1, 1));
    const streams = (log as unknown as { streams: Map<string, unknown> }).streams;
    expect(streams.size).toBe(1);
    const deadline = performance.now() + 5000;
    while (streams.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(streams.size).toBe(0);
    await log.close();
  });

  it('after close, every call fails with StreamStoreUnavailableError', async () => {
    const log = new MemoryStreamLog();
    await log.close();
    await expect(log.create(newStream())).rejects.toMatchObject({
      name: 'StreamStoreUnavailableError',
      status: 503,
    });
  });
});

import { describe, expect, it, vi } from 'vitest';
import { LeaseKeeper, MemoryStreamLog } from '../../../src/server/streams/index.ts';
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

  it('keeps no reader or cancel sets for an ended stream it holds until its TTL', async () => {
    const log = new MemoryStreamLog();
    const stream = newStream();
    const lease = await log.create(stream);
    await log.append(lease, batch(1, 1));
    const unsubscribe = log.onCancel(stream.id, () => {});
    const reading = (async () => {
      for await (const _ of log.read(stream.id, { after: 1 })) {
        // Nothing after id 1: the reader waits for a write, which the finish is.
      }
    })();
    await log.finish(lease, { message: undefined, usage: null });
    await reading;
    unsubscribe();
    const kept = (log as unknown as { streams: Map<string, object> }).streams.get(stream.id);
    expect(kept).toMatchObject({ waiters: undefined, cancelHandlers: undefined });
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

  it('a keeper whose handler throws keeps no other keeper of the tick from hearing its answer; the error still surfaces', async () => {
    const log = new MemoryStreamLog({ leaseMs: 60 });
    const leases = [await log.create(newStream()), await log.create(newStream())];
    let ticks = 0;
    const renewLeases = log.renewLeases.bind(log);
    log.renewLeases = (batch) => {
      ticks++;
      return renewLeases(batch);
    };
    // The error is thrown from a microtask of its own: caught here instead of failing the run.
    const deferred: (() => void)[] = [];
    const queued = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      deferred.push(callback);
    });
    const boom = new Error('a handler failed');
    try {
      // Both streams end, so both keepers lose their leases at the same tick.
      for (const lease of leases) await log.finish(lease, { message: null, usage: null });
      const heardAtTick = await new Promise<number>((resolve) => {
        new LeaseKeeper(log, leases[0]!, {
          onLost: () => {
            throw boom;
          },
        });
        new LeaseKeeper(log, leases[1]!, { onLost: () => resolve(ticks) });
      });
      expect(heardAtTick).toBe(1);
    } finally {
      queued.mockRestore();
      await log.close();
    }
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow(boom);
  });
});

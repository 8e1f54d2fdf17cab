import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/protocol/errors.ts';
import type { GatewayContext } from '../../src/server/context.ts';
import { DurableStreams } from '../../src/server/durable/durable-streams.ts';
import { trackGeneration } from '../../src/server/durable/relay.ts';
import { InFlight } from '../../src/server/in-flight.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';

describe('InFlight', () => {
  it('aborts every request still in flight at shutdown, with the shutdown reason', () => {
    const shutdown = new AbortController();
    const inFlight = new InFlight(shutdown.signal);
    const [first, second, finished] = [new AbortController(), new AbortController(), new AbortController()];
    inFlight.track(first);
    inFlight.track(second);
    const release = inFlight.track(finished);
    release();
    const reason = new OverloadedError('The gateway is shutting down; retry the request.');
    shutdown.abort(reason);
    expect(first.signal.reason).toBe(reason);
    expect(second.signal.reason).toBe(reason);
    expect(finished.signal.aborted).toBe(false);
  });

  it('aborts a request that begins after the shutdown at once', () => {
    const shutdown = new AbortController();
    const inFlight = new InFlight(shutdown.signal);
    shutdown.abort(new OverloadedError('shutting down'));
    const late = new AbortController();
    inFlight.track(late)();
    expect(late.signal.aborted).toBe(true);
  });

  it('adds one listener to the shutdown signal however many requests are in flight', () => {
    const shutdown = new AbortController();
    const inFlight = new InFlight(shutdown.signal);
    for (let i = 0; i < 1000; i++) inFlight.track(new AbortController());
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
  });
});

describe('trackGeneration', () => {
  const started = async () => {
    const inFlight = new InFlight(new AbortController().signal);
    const streams = new DurableStreams({ log: new MemoryStreamLog() });
    const { producer } = await streams.start({ wire: 'anthropic', ownerKeyHash: 'k', params: {} });
    trackGeneration({ inFlight } as GatewayContext, producer);
    return { inFlight, producer };
  };

  it('lets a generation go once its stream has ended, aborted or not', async () => {
    const { inFlight, producer } = await started();
    expect(inFlight.size).toBe(1);
    await producer.finish();
    expect(inFlight.size).toBe(0);
  });

  it('lets a failed or aborted generation go too', async () => {
    const failed = await started();
    await failed.producer.fail('api_error', 'boom');
    expect(failed.inFlight.size).toBe(0);
    const cancelled = await started();
    cancelled.producer.cancel();
    expect(cancelled.inFlight.size).toBe(0);
  });
});

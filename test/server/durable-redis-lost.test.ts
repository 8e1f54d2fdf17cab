import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createServer } from '../../src/server/app.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { openRedisStreamLog } from '../../src/server/streams/redis-store.ts';
import type { StreamLog } from '../../src/server/streams/types.ts';
import { BodyReader, eventIds, sseEvents } from '../helpers/sse-reader.ts';
import { PrivateRedis, redisForTests } from './streams/redis-service.ts';

const REQUEST = {
  model: 'upstream:default',
  max_tokens: 600,
  stream: true,
  messages: [{ role: 'user', content: 'Write a long essay on rivers, in detail.' }],
};

/** Redis lost while the gateway runs: a private redis-server, killed and restarted (never the shared one). */
describe('the Redis stream store lost mid-stream', () => {
  let redis: PrivateRedis;
  let sim: Simulator;
  let log: StreamLog;
  let app: FastifyInstance;
  let url: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    await redisForTests();
    redis = await PrivateRedis.start();
    sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 400 } });
    log = await openRedisStreamLog(redis.url);
    app = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }) },
      }),
      pingIntervalMs: 0,
      streamLog: log,
      warn: (message) => warnings.push(message),
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
    await sim?.close();
    await redis?.kill();
  });

  const post = () =>
    fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REQUEST),
    });

  it('finishes the live answer unlogged with one warning, refuses new streams with a 503, and recovers', async () => {
    const live = await post();
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    await redis.kill();
    const text = await reader.all();
    expect(text).toMatch(/event: message_stop/);
    expect(text).not.toMatch(/event: error/);
    const ids = eventIds(text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/the answer goes on unlogged/);
    expect(warnings[0]).not.toMatch(/127\.0\.0\.1:\d+.*password/);

    const refused = await post();
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('api_error');

    await redis.restart();
    // The log reconnects by itself (backing off up to a second): retry until a stream is
    // accepted again, each try a real request, for at most 10 s.
    let status = 0;
    for (const deadline = performance.now() + 10_000; status !== 200 && performance.now() < deadline; ) {
      const again = await post();
      status = again.status;
      await again.arrayBuffer();
    }
    expect(status).toBe(200);
  }, 30_000);

  it('a Redis that stops answering (SIGSTOP) delays the live answer by a command timeout at most, then marks the stream failed once back', async () => {
    warnings.length = 0;
    const live = await post();
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    redis.pause();
    let text: string;
    try {
      // Without a command timeout every batch would wait for the log forever.
      text = await reader.all();
    } finally {
      redis.resume();
    }
    expect(text).toMatch(/event: message_stop/);
    expect(text).not.toMatch(/event: error/);
    const ids = eventIds(text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot be reached.*the answer goes on unlogged/);

    // Back, the log holds part of the answer: the stream is failed (not left running for an
    // instance to continue from the part), and a reader ends with that error, not a message_stop.
    let status = '';
    for (const deadline = performance.now() + 10_000; status !== 'failed' && performance.now() < deadline; ) {
      const response = await fetch(`${url}/v1/streams/${id}`, { headers: { accept: 'application/json' } });
      status = ((await response.json()) as { status: string }).status;
    }
    expect(status).toBe('failed');
    const resumed = await (await fetch(`${url}/v1/streams/${id}?after=0`)).text();
    expect(resumed).not.toMatch(/event: message_stop/);
    expect(resumed).toMatch(/event: error\ndata: .*missed part of this answer/);
  }, 30_000);
});

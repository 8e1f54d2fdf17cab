import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { openRedisStreamLog } from '../../src/server/streams/redis-store.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from './streams/redis-service.ts';

// Two gateways on one Redis: a response started on one is retrieved, replayed and followed
// through the other, and kept for `responses.ttlSeconds` (30 days by default) in Redis.
const KEY = 'sk-responses-redis';
const prefix = uniquePrefix('responses');
const apps: FastifyInstance[] = [];
let enabled = true;
let a: OpenAI;
let b: OpenAI;

beforeAll(async () => {
  enabled = await redisForTests();
  if (!enabled) return;
  const start = async () => {
    const app = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { paced: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 400 } }) },
      }),
      apiKeys: [KEY],
      pingIntervalMs: 0,
      streamLog: await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix }),
    });
    apps.push(app);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  };
  a = await start();
  b = await start();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  if (enabled) await deleteKeys(prefix);
});

describe('stored responses on a shared Redis log', () => {
  it('a stream dropped on one instance is taken up on the other with starting_after, live; kept 30 days', async () => {
    if (!enabled) return;
    const input = 'Tell me about shared logs';
    const stream = await a.responses.create({ model: 'paced:default', input, stream: true });
    const seen: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (event.type === 'response.output_text.delta' && seen.length >= 6) break;
    }
    const id = seen[0]?.type === 'response.created' ? seen[0].response.id : '';
    const rest: ResponseStreamEvent[] = [];
    const last = seen.at(-1)?.sequence_number ?? -1;
    for await (const event of await b.responses.retrieve(id, { stream: true, starting_after: last }))
      rest.push(event);
    const all = [...seen, ...rest];
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, i) => i));
    const completed = rest.at(-1);
    if (completed?.type !== 'response.completed') throw new Error(`ended with ${completed?.type}`);
    const text = all
      .flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []))
      .join('');
    expect((await a.responses.retrieve(id)).output_text).toBe(text);

    const redis = new Redis(REDIS_URL);
    try {
      const ttlMs = await redis.pttl(`${prefix}{${id}}:meta`);
      expect(ttlMs).toBeGreaterThan(29 * 24 * 3600 * 1000);
    } finally {
      redis.disconnect();
    }
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { RateLimitError } from '../../../src/protocol/errors.ts';
import { RedisRateLimiter } from '../../../src/server/rate-limit-redis.ts';
import { StreamStoreUnavailableError } from '../../../src/server/streams/index.ts';
import {
  deleteKeys,
  freePort,
  PrivateRedis,
  REDIS_URL,
  redisForTests,
  uniquePrefix,
} from './redis-service.ts';

const available = await redisForTests();
const prefix = uniquePrefix('rate');

afterAll(() => deleteKeys(prefix));

describe.skipIf(!available)('the rate limit shared through Redis', () => {
  it('two instances spend one bucket per caller: the burst across both, then 429 with the wait', async () => {
    const a = await RedisRateLimiter.open(REDIS_URL, 60, { burst: 3, keyPrefix: prefix });
    const b = await RedisRateLimiter.open(REDIS_URL, 60, { burst: 3, keyPrefix: prefix });
    try {
      await a.take('key-1');
      await b.take('key-1');
      await a.take('key-1');
      const refused = await b.take('key-1').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RateLimitError);
      expect((refused as RateLimitError).retryAfterMs).toBeGreaterThan(0);
      expect((refused as RateLimitError).retryAfterMs).toBeLessThanOrEqual(1000);
      expect((refused as RateLimitError).message).toContain('60 requests a minute per key');
      await expect(a.take('key-1')).rejects.toBeInstanceOf(RateLimitError);
      // Another caller has a bucket of its own.
      await b.take('key-2');
    } finally {
      a.close();
      b.close();
    }
  });

  it('many concurrent takes from two instances never spend more than the burst', async () => {
    const a = await RedisRateLimiter.open(REDIS_URL, 6, { burst: 5, keyPrefix: prefix });
    const b = await RedisRateLimiter.open(REDIS_URL, 6, { burst: 5, keyPrefix: prefix });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('key-concurrent')),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    } finally {
      a.close();
      b.close();
    }
  });

  it('refills at the configured rate on Redis’s clock', async () => {
    const a = await RedisRateLimiter.open(REDIS_URL, 1200, { burst: 1, keyPrefix: prefix });
    const b = await RedisRateLimiter.open(REDIS_URL, 1200, { burst: 1, keyPrefix: prefix });
    try {
      await a.take('key-refill');
      const refused = (await b.take('key-refill').catch((error: unknown) => error)) as RateLimitError;
      expect(refused).toBeInstanceOf(RateLimitError);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
      // The wait it names is enough.
      await new Promise((resolve) => setTimeout(resolve, (refused.retryAfterMs ?? 0) + 5));
      await b.take('key-refill');
    } finally {
      a.close();
      b.close();
    }
  });

  it('keeps no caller text in Redis, and its buckets expire', async () => {
    const a = await RedisRateLimiter.open(REDIS_URL, 60, { keyPrefix: prefix });
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL);
    try {
      await a.take('sk-secret-key-label');
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.join()).not.toContain('secret');
      for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      a.close();
      redis.disconnect();
    }
  });

  it('an unreachable Redis: a typed error at start; while running, fail open (default) or a 503', async () => {
    const port = await freePort();
    const atStart = await RedisRateLimiter.open(`redis://127.0.0.1:${port}`, 60).catch((e: unknown) => e);
    expect(atStart).toBeInstanceOf(StreamStoreUnavailableError);
    expect((atStart as Error).message).toContain(`shared rate limit at redis://127.0.0.1:${port}`);
    const server = await PrivateRedis.start();
    const failures: unknown[] = [];
    const open = await RedisRateLimiter.open(server.url, 60, {
      burst: 1,
      onUnavailable: (e) => failures.push(e),
    });
    const closed = await RedisRateLimiter.open(server.url, 60, { burst: 1, failOpen: false });
    try {
      await server.kill();
      await open.take('k');
      await open.take('k');
      expect(failures).toHaveLength(2);
      await expect(closed.take('k')).rejects.toMatchObject({ type: 'api_error', status: 503 });
    } finally {
      open.close();
      closed.close();
    }
  });

  it('a Redis that stops answering (SIGSTOP) holds a request up by the command timeout at most, then fails open', async () => {
    const server = await PrivateRedis.start();
    const failures: unknown[] = [];
    const limiter = await RedisRateLimiter.open(server.url, 60, { onUnavailable: (e) => failures.push(e) });
    try {
      await limiter.take('k');
      server.pause();
      const startedAt = performance.now();
      // Without a command timeout this take would wait for as long as Redis is stopped.
      await limiter.take('k');
      expect(performance.now() - startedAt).toBeLessThan(10_000);
      expect(failures).toHaveLength(1);
    } finally {
      server.resume();
      limiter.close();
      await server.kill();
    }
  });
});

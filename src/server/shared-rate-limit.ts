import type { RequestLimiter } from './rate-limit.ts';

/** A rate limiter kept outside this process, and how to let go of its connection. */
export interface SharedRateLimiter {
  limiter: RequestLimiter;
  close(): void;
}

/**
 * With the stream log in Redis, the per-key rate limit is kept there too, so N instances
 * behind a load balancer (or the workers of `--workers N`) enforce one limit rather than N.
 * Undefined with the memory store, or with no limit configured. The Redis module is imported
 * only here: ioredis is an optional peer dependency, and the store's start has already said
 * so if it is missing.
 */
export async function sharedRateLimiter(
  store: string,
  rateLimit: { requestsPerMinute: number; burst?: number },
  keyPrefix: string,
): Promise<SharedRateLimiter | undefined> {
  if (!/^rediss?:\/\//.test(store) || rateLimit.requestsPerMinute <= 0) return undefined;
  const { RedisRateLimiter } = await import('./rate-limit-redis.ts');
  const limiter = await RedisRateLimiter.open(store, rateLimit.requestsPerMinute, {
    burst: rateLimit.burst,
    keyPrefix: `${keyPrefix}rate:`,
  });
  return { limiter, close: () => limiter.close() };
}

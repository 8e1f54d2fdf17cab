import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ApiError, RateLimitError } from '../protocol/errors.ts';
import type { RequestLimiter } from './rate-limit.ts';
import { connectRedis, redactRedisUrl } from './streams/redis-connection.ts';

/**
 * A token bucket in one Lua script, so instances sharing it never both spend the last token.
 * The clock is Redis's (TIME), not each instance's: one bucket, one clock.
 * KEYS bucket; ARGV tokens-per-ms burst → -1 when a token was taken, else ms until the next one.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local perMs, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local taken = tokens >= 1
if taken then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%d', now))
-- A bucket left alone this long is full again: Redis can forget it.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
if taken then return -1 end
return math.ceil((1 - tokens) / perMs)
`;

interface ScriptedRedis extends Redis {
  rateLimitTake(key: string, perMs: number, burst: number): Promise<number>;
}

export interface RedisRateLimiterOptions {
  /** Requests allowed at once (default: requestsPerMinute). */
  burst?: number;
  /** Prepended to every bucket's key (default `sluice:rate:`). */
  keyPrefix?: string;
  /**
   * While Redis is away: true (the default) lets requests in, so a Redis outage does not take
   * the gateway down with it; false refuses them with a 503.
   */
  failOpen?: boolean;
  /** Told about each failure to reach Redis (for a log line); the key never appears in it. */
  onUnavailable?: (error: unknown) => void;
}

/**
 * The per-key rate limit shared through Redis: N gateway instances behind a load balancer
 * enforce one limit, `requestsPerMinute` on average and up to `burst` at once, per caller.
 */
export class RedisRateLimiter implements RequestLimiter {
  private readonly redis: ScriptedRedis;
  private readonly where: string;
  private readonly perMs: number;
  private readonly burst: number;
  private readonly prefix: string;
  private readonly failOpen: boolean;
  private readonly onUnavailable: ((error: unknown) => void) | undefined;

  constructor(redis: Redis, where: string, requestsPerMinute: number, options: RedisRateLimiterOptions = {}) {
    this.where = where;
    this.perMs = requestsPerMinute / 60_000;
    this.burst = Math.max(1, options.burst ?? requestsPerMinute);
    this.prefix = options.keyPrefix ?? 'sluice:rate:';
    this.failOpen = options.failOpen ?? true;
    this.onUnavailable = options.onUnavailable;
    redis.defineCommand('rateLimitTake', { numberOfKeys: 1, lua: TAKE });
    this.redis = redis as ScriptedRedis;
  }

  /** Connects (StreamStoreUnavailableError, naming the URL without credentials, if Redis does not answer). */
  static async open(
    url: string,
    requestsPerMinute: number,
    options: RedisRateLimiterOptions = {},
  ): Promise<RedisRateLimiter> {
    const redis = await connectRedis(url, { enableAutoPipelining: true }, 'shared rate limit');
    return new RedisRateLimiter(redis, redactRedisUrl(url), requestsPerMinute, options);
  }

  get enabled(): boolean {
    return this.perMs > 0;
  }

  async take(caller: string): Promise<void> {
    if (!this.enabled) return;
    let wait: number;
    try {
      wait = await this.redis.rateLimitTake(this.keyOf(caller), this.perMs, this.burst);
    } catch (error) {
      this.onUnavailable?.(error);
      if (this.failOpen) return;
      throw new ApiError(`The shared rate limit at ${this.where} cannot be reached; retry shortly.`, {
        status: 503,
        shouldRetry: true,
      });
    }
    if (wait < 0) return;
    throw new RateLimitError(
      `Rate limit reached (${Math.round(this.perMs * 60_000)} requests a minute per key); retry after ${Math.ceil(wait / 1000)} s.`,
      { retryAfterMs: wait },
    );
  }

  close(): void {
    this.redis.disconnect();
  }

  /** A digest of the caller: no part of a key or an address is stored in Redis. */
  private keyOf(caller: string): string {
    return `${this.prefix}${createHash('sha256').update(caller).digest('hex').slice(0, 32)}`;
  }
}

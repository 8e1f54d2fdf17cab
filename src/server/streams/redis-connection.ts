import { Redis, type RedisOptions } from 'ioredis';
import { StreamStoreUnavailableError } from './errors.ts';

/** A Redis URL as it may appear in an error or a log: no user name, no password. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'redis (an unparsable URL)';
  }
}

/** How long a command may wait for Redis's answer before it fails as if Redis were away. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

/**
 * Options for every connection of the log: while Redis is away a command fails at once (no
 * offline queue, nothing resent after a reconnect: the caller gets a typed 503 and decides),
 * and the client keeps reconnecting in the background, so the log recovers when Redis returns.
 * A Redis that is there but does not answer (stopped, swapping, a partition that keeps the
 * connection open) fails each command after DEFAULT_COMMAND_TIMEOUT_MS: a live answer waits
 * for its log that long at most, then goes on unlogged. Blocking reads, which wait on purpose,
 * are made on connections without it.
 */
export const FAIL_FAST: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
};

/** Connects, or throws StreamStoreUnavailableError naming the URL without credentials. */
export async function connectRedis(
  url: string,
  options: RedisOptions = {},
  what = 'stream store',
): Promise<Redis> {
  const redis = new Redis(url, { ...FAIL_FAST, ...options });
  // Errors while reconnecting are reported to the commands that fail; without a listener
  // ioredis would print each one.
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new StreamStoreUnavailableError(redactRedisUrl(url), { cause: error, what });
  }
}

import { MemoryStreamLog } from './memory-store.ts';
import type { RedisStreamLogOptions } from './redis-store.ts';
import type { StreamLog } from './types.ts';

/** Thrown when a redis:// store is configured and ioredis, an optional peer of sluice, is missing. */
export class MissingRedisClientError extends Error {
  override name = 'MissingRedisClientError';
  constructor() {
    super(
      'streams.store names a Redis URL, which needs ioredis, an optional dependency of sluice that is not installed: run `npm install ioredis` (or use the memory store).',
    );
  }
}

/**
 * The stream log a spec names: `memory`, or a `redis://host:port/db` URL. A Redis that does
 * not answer is a StreamStoreUnavailableError now, at start, rather than on the first stream.
 * The Redis store is imported only when named: ioredis is an optional peer dependency.
 */
export async function createStreamLog(spec: string, options: RedisStreamLogOptions = {}): Promise<StreamLog> {
  if (spec === 'memory') return new MemoryStreamLog(options);
  if (/^rediss?:\/\//.test(spec)) {
    let redisStore: typeof import('./redis-store.ts');
    try {
      redisStore = await import('./redis-store.ts');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' && /'ioredis'/.test((error as Error).message)) {
        throw new MissingRedisClientError();
      }
      throw error;
    }
    return redisStore.openRedisStreamLog(spec, options);
  }
  throw new TypeError(`Unknown stream store "${spec}": use "memory" or a redis://host:port/db URL.`);
}

import { MemoryStreamLog } from './memory-store.ts';
import { openRedisStreamLog, type RedisStreamLogOptions } from './redis-store.ts';
import type { StreamLog } from './types.ts';

/**
 * The stream log a spec names: `memory`, or a `redis://host:port/db` URL. A Redis that does
 * not answer is a StreamStoreUnavailableError now, at start, rather than on the first stream.
 */
export async function createStreamLog(spec: string, options: RedisStreamLogOptions = {}): Promise<StreamLog> {
  if (spec === 'memory') return new MemoryStreamLog(options);
  if (/^rediss?:\/\//.test(spec)) return openRedisStreamLog(spec, options);
  throw new TypeError(`Unknown stream store "${spec}": use "memory" or a redis://host:port/db URL.`);
}

export {
  DEFAULT_STREAMS_CONFIG,
  resolveStreamStore,
  STREAM_STORE_ENV,
  STREAM_STORE_FLAG,
  StreamStoreSchema,
  type StreamsConfig,
  StreamsConfigSchema,
} from './config.ts';
export { createStreamLog, MissingRedisClientError } from './create.ts';
export { checkEntry, decodeEntries, encodeBatch, entryAfter } from './entry.ts';
export {
  InvalidLogEntryError,
  LeaseLostError,
  StreamExistsError,
  StreamNotFoundError,
  StreamStoreUnavailableError,
} from './errors.ts';
export { LeaseKeeper } from './lease-keeper.ts';
export { MemoryStreamLog } from './memory-store.ts';
export { openRedisStreamLog, RedisStreamLog, type RedisStreamLogOptions } from './redis-store.ts';
export type * from './types.ts';

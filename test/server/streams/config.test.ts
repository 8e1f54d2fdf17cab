import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STREAMS_CONFIG,
  resolveStreamStore,
  StreamsConfigSchema,
} from '../../../src/server/streams/index.ts';

describe('the streams config', () => {
  it('defaults: memory, 600 s TTL, 3 s lease, 30 s detach grace, detach on disconnect', () => {
    expect(DEFAULT_STREAMS_CONFIG).toEqual({
      store: 'memory',
      ttlSeconds: 600,
      leaseMs: 3000,
      detachGraceMs: 30_000,
      onDisconnect: 'detach',
      keyPrefix: 'sluice:streams:',
    });
  });

  it('takes memory or a redis URL, and refuses anything else or an unknown key', () => {
    expect(StreamsConfigSchema.parse({ store: 'redis://127.0.0.1:6379/2' }).store).toBe(
      'redis://127.0.0.1:6379/2',
    );
    expect(StreamsConfigSchema.parse({ store: 'rediss://u:p@host:6380/0' }).store).toBe(
      'rediss://u:p@host:6380/0',
    );
    expect(StreamsConfigSchema.safeParse({ store: 'postgres://x' }).success).toBe(false);
    expect(StreamsConfigSchema.safeParse({ onDisconnect: 'pause' }).success).toBe(false);
    expect(StreamsConfigSchema.safeParse({ leaseMs: 10 }).success).toBe(false);
    expect(StreamsConfigSchema.safeParse({ ttl: 5 }).success).toBe(false);
  });

  it('the flag wins over SLUICE_STREAM_STORE, which wins over the file', () => {
    const env = { SLUICE_STREAM_STORE: 'redis://env:6379/0' };
    expect(resolveStreamStore({ flag: 'memory', env, config: 'redis://file:6379/0' })).toBe('memory');
    expect(resolveStreamStore({ env, config: 'memory' })).toBe('redis://env:6379/0');
    expect(resolveStreamStore({ env: {}, config: 'redis://file:6379/0' })).toBe('redis://file:6379/0');
    expect(resolveStreamStore({})).toBe('memory');
    expect(() => resolveStreamStore({ flag: 'sqlite' })).toThrow();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openRedisStreamLog,
  type RedisStreamLog,
  StreamStoreUnavailableError,
} from '../../../src/server/streams/index.ts';
import { batch, newStream, readAll } from './contract.ts';
import { PrivateRedis, redisForTests } from './redis-service.ts';

// redis-server is what the shared Redis runs on too: where that answers, this binary exists.
const available = await redisForTests();

/** Settles within `ms` or fails the test: "nothing hangs" is part of what is tested. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe.skipIf(!available)(
  'the Redis stream log when Redis stops and comes back (a private redis-server)',
  () => {
    let redis: PrivateRedis;
    let log: RedisStreamLog;

    beforeAll(async () => {
      redis = await PrivateRedis.start();
      log = await openRedisStreamLog(redis.url, { keyPrefix: 'restart:', leaseMs: 60_000 });
    });
    afterAll(async () => {
      await log?.close();
      await redis?.kill();
    });

    it('fails new streams, writes and waiting readers with a typed 503 at once, then recovers by itself', async () => {
      const stream = newStream();
      const lease = await log.create(stream);
      await log.append(lease, batch(1, 1));
      const reading = readAll(log, stream.id).catch((error: unknown) => error);
      // The cancel subscription opened now must come back with Redis.
      log.onCancel(stream.id, () => {});

      await redis.kill();

      const refused = await within(
        3000,
        log.create(newStream()).catch((error: unknown) => error),
      );
      expect(refused).toBeInstanceOf(StreamStoreUnavailableError);
      expect(refused).toMatchObject({ type: 'api_error', status: 503, shouldRetry: true });
      expect((refused as Error).message).toContain(`127.0.0.1:${redis.port}`);
      await expect(within(3000, log.append(lease, batch(2, 1)))).rejects.toBeInstanceOf(
        StreamStoreUnavailableError,
      );
      await expect(within(3000, log.lookup(stream.id))).rejects.toBeInstanceOf(StreamStoreUnavailableError);
      // The reader that was following gets a clear error rather than waiting forever.
      expect(await within(3000, reading)).toBeInstanceOf(StreamStoreUnavailableError);
      await expect(within(3000, readAll(log, stream.id))).rejects.toBeInstanceOf(StreamStoreUnavailableError);

      await redis.restart();

      // The log reconnects by itself; new streams work again (this Redis kept nothing on disk).
      const deadline = performance.now() + 10_000;
      let lease2: Awaited<ReturnType<RedisStreamLog['create']>> | undefined;
      const next = newStream();
      while (!lease2) {
        lease2 = await log.create(next).catch((error: unknown) => {
          expect(error).toBeInstanceOf(StreamStoreUnavailableError);
          if (performance.now() > deadline) throw new Error('the log did not recover within 10 s');
          return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50));
        });
      }
      const reader = readAll(log, next.id);
      await log.append(lease2, batch(1, 2));
      await log.finish(lease2, { message: null, usage: null });
      expect(await within(5000, reader)).toEqual([batch(1, 2)]);
      expect(await log.requestCancel(next.id)).toBe(false);
      const third = newStream();
      await log.create(third);
      const heard = new Promise<void>((resolve) => log.onCancel(third.id, resolve));
      expect(await log.requestCancel(third.id)).toBe(true);
      await within(3000, heard);
    });
  },
);

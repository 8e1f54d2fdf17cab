import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createStreamLog,
  LeaseKeeper,
  LeaseLostError,
  openRedisStreamLog,
  type StreamLog,
  StreamStoreUnavailableError,
} from '../../../src/server/streams/index.ts';
import { batch, describeStreamLogContract, newStream, readAll } from './contract.ts';
import {
  deleteKeys,
  freePort,
  PrivateRedis,
  REDIS_URL,
  redisForTests,
  uniquePrefix,
} from './redis-service.ts';

const available = await redisForTests();
const prefix = uniquePrefix('streams');

afterAll(() => deleteKeys(prefix));

describe.skipIf(!available)('the Redis stream log', () => {
  // Two instances on one Redis, as two gateways would be: a writes, b reads and takes over.
  describeStreamLogContract('redis', async (options) => {
    const a = await openRedisStreamLog(REDIS_URL, { ...options, keyPrefix: prefix });
    const b = await openRedisStreamLog(REDIS_URL, { ...options, keyPrefix: prefix });
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });

  it('keeps a stream as one Redis Stream with an entry per batch, ids from the sequence numbers', async () => {
    const log = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, ttlSeconds: 100 });
    const redis = new Redis(REDIS_URL);
    try {
      const stream = newStream();
      const lease = await log.create(stream);
      await log.append(lease, batch(1, 2));
      await log.append(lease, batch(3, 3));
      await log.finish(lease, { message: null, usage: null });
      const logKey = `${prefix}{${stream.id}}:log`;
      const entries = await redis.xrange(logKey, '-', '+');
      expect(entries.map(([id]) => id)).toEqual(['2-0', '5-0', '5-1']);
      expect(entries[1]?.[1]).toEqual(['f', '3', 'd', batch(3, 3).data]);
      expect(entries[2]?.[1]).toEqual(['e', 'finished']);
      // Redis itself refuses an entry that does not come after the last one.
      await expect(redis.xadd(logKey, '5-0', 'f', '5', 'd', 'x')).rejects.toThrow(/equal or smaller/);
      // Every key of the stream expires.
      for (const key of [logKey, `${prefix}{${stream.id}}:meta`]) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(90_000);
        expect(ttl).toBeLessThanOrEqual(100_000);
      }
      expect(await redis.exists(`${prefix}{${stream.id}}:lease`)).toBe(0);
    } finally {
      redis.disconnect();
      await log.close();
    }
  });

  it('fences a zombie that races the new owner: only the new owner’s appends land, atomically', async () => {
    const zombie = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: 60_000 });
    const owner = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: 60_000 });
    try {
      const stream = newStream('zombie');
      const old = await zombie.create(stream);
      await zombie.append(old, batch(1, 1));
      await zombie.releaseLease(old); // as if it had lapsed
      const taken = (await owner.acquireLease(stream.id, 'owner'))!;
      // Both append the same ids at once, many times: the zombie's writes all fail.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => {
          const entry = batch(2 + i, 1);
          return Promise.allSettled([zombie.append(old, entry), owner.append(taken, entry)]);
        }),
      );
      for (const result of results) {
        expect(result.status).toBe('fulfilled');
        if (result.status !== 'fulfilled') continue;
        const [fromZombie, fromOwner] = result.value;
        expect(fromZombie.status).toBe('rejected');
        expect(fromZombie.status === 'rejected' && fromZombie.reason).toBeInstanceOf(LeaseLostError);
        expect(fromOwner).toEqual({ status: 'fulfilled', value: 'appended' });
      }
      await owner.finish(taken, { message: null, usage: null });
      const got = await readAll(owner, stream.id);
      expect(got.map((entry) => entry.last)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    } finally {
      await Promise.all([zombie.close(), owner.close()]);
    }
  });

  it('appends of many streams made together go as one script call, each answered on its own', async () => {
    const log = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: 60_000 });
    try {
      const good = newStream();
      const fenced = newStream();
      const goodLease = await log.create(good);
      const staleLease = await log.create(fenced);
      await log.releaseLease(staleLease);
      await log.acquireLease(fenced.id, 'other');
      await log.append(goodLease, batch(1, 1));
      // The same ids twice (a duplicate), a gap, a fenced writer and a good one, all in one turn.
      const results = await Promise.allSettled([
        log.append(goodLease, batch(2, 2)),
        log.append(staleLease, batch(1, 1)),
        log.append(goodLease, batch(2, 2)),
        log.append(goodLease, batch(9, 1)),
        log.append(goodLease, batch(4, 1)),
      ]);
      expect(
        results.map((result) => (result.status === 'fulfilled' ? result.value : result.reason.name)),
      ).toEqual(['appended', 'LeaseLostError', 'duplicate', 'InvalidLogEntryError', 'appended']);
      await log.finish(goodLease, { message: null, usage: null });
      expect((await readAll(log, good.id)).map((entry) => entry.last)).toEqual([1, 3, 4]);
    } finally {
      await log.close();
    }
  });

  it('sends the appends made in one turn as one script call (a private Redis, so only ours are counted)', async () => {
    const server = await PrivateRedis.start();
    const log = await openRedisStreamLog(server.url, { leaseMs: 60_000 });
    const redis = new Redis(server.url);
    try {
      const leases = await Promise.all(Array.from({ length: 50 }, () => log.create(newStream())));
      const scriptCalls = async () =>
        Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
      const before = await scriptCalls();
      const answers = await Promise.all(leases.map((lease) => log.append(lease, batch(1, 1))));
      expect(answers).toEqual(leases.map(() => 'appended'));
      // One EVALSHA, or two if the script had to be loaded first (NOSCRIPT, then EVAL).
      expect((await scriptCalls()) - before).toBeLessThanOrEqual(1);
    } finally {
      redis.disconnect();
      await log.close();
      await server.kill();
    }
  });

  it('group commit: appends made within the interval after a call, turn after turn, go together in the next call; a lone one goes at once; close sends what is gathering (a private Redis)', async () => {
    const server = await PrivateRedis.start();
    const intervalMs = 400;
    const log = await openRedisStreamLog(server.url, { leaseMs: 60_000, appendIntervalMs: intervalMs });
    const redis = new Redis(server.url);
    try {
      // EVALSHA, or EVAL the first time (the script not loaded yet): one script call either way.
      const scriptCalls = async () => {
        const stats = await redis.info('commandstats');
        const calls = (command: string) =>
          Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        return calls('evalsha') + calls('eval');
      };
      const leases = await Promise.all(Array.from({ length: 5 }, () => log.create(newStream())));
      const before = await scriptCalls();
      // Nothing was appended yet: the first append goes out at once, not an interval later.
      const firstSent = performance.now();
      expect(await log.append(leases[0]!, batch(1, 1))).toBe('appended');
      expect(performance.now() - firstSent).toBeLessThan(intervalMs);
      expect((await scriptCalls()) - before).toBe(1);
      // Four more, each in a turn of its own, within the interval: gathered into one call.
      const gathered: Promise<string>[] = [];
      for (const lease of leases.slice(1)) {
        gathered.push(log.append(lease, batch(1, 1)));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect((await scriptCalls()) - before).toBe(1);
      expect(await Promise.all(gathered)).toEqual(['appended', 'appended', 'appended', 'appended']);
      expect((await scriptCalls()) - before).toBe(2);
      // An append still gathering when the log is closed is sent before the connection goes.
      const last = log.append(leases[0]!, batch(2, 1));
      await log.close();
      expect(await last).toBe('appended');
      expect(await redis.xlen(`sluice:streams:{${leases[0]!.streamId}}:log`)).toBe(2);
    } finally {
      redis.disconnect();
      await log.close();
      await server.kill();
    }
  });

  it('renews many leases as one script call: asked directly, and by the keepers at each tick (a private Redis, so only ours are counted)', async () => {
    const server = await PrivateRedis.start();
    const log = await openRedisStreamLog(server.url, { leaseMs: 300 });
    const redis = new Redis(server.url);
    const keepers: LeaseKeeper[] = [];
    try {
      const leases = await Promise.all(Array.from({ length: 50 }, () => log.create(newStream())));
      const scriptCalls = async () =>
        Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
      // The first call loads the script (NOSCRIPT, then EVAL): counted from the next one.
      await log.renewLeases(leases.slice(0, 1));
      const before = await scriptCalls();
      const results = await log.renewLeases(leases);
      expect(results).toEqual(leases.map(() => ({ status: 'fulfilled', value: { cancelRequested: false } })));
      expect((await scriptCalls()) - before).toBe(1);

      // The keepers' ticks, counted as they are sent: one script call each for all 50 leases.
      const batchSizes: number[] = [];
      const renewLeases = log.renewLeases.bind(log);
      log.renewLeases = (batch) => {
        batchSizes.push(batch.length);
        return renewLeases(batch);
      };
      const lost: unknown[] = [];
      const beforeTicks = await scriptCalls();
      for (const lease of leases)
        keepers.push(new LeaseKeeper(log, lease, { onLost: (error) => lost.push(error) }));
      await eventuallyTrue(async () => batchSizes.length >= 3);
      for (const keeper of keepers) keeper.stop();
      const sent = batchSizes.length;
      expect(batchSizes).toEqual(batchSizes.map(() => leases.length));
      await eventuallyTrue(async () => (await scriptCalls()) - beforeTicks === sent);
      expect(lost).toEqual([]);
    } finally {
      for (const keeper of keepers) keeper.stop();
      redis.disconnect();
      await log.close();
      await server.kill();
    }
  });

  it('a keeper whose renewal fails while Redis does not answer (SIGSTOP) renews at the next tick once it is back', async () => {
    const server = await PrivateRedis.start();
    const log = await openRedisStreamLog(server.url, { leaseMs: 900, commandTimeoutMs: 100 });
    const outcomes: string[] = [];
    const renewLeases = log.renewLeases.bind(log);
    log.renewLeases = (batch) =>
      renewLeases(batch).then(
        (results) => {
          outcomes.push(results[0]?.status ?? 'none');
          return results;
        },
        (error: unknown) => {
          outcomes.push((error as Error).name);
          throw error;
        },
      );
    const lost: unknown[] = [];
    const stream = newStream();
    const keeper = new LeaseKeeper(log, await log.create(stream), { onLost: (error) => lost.push(error) });
    try {
      await eventuallyTrue(async () => outcomes.includes('fulfilled'));
      server.pause();
      try {
        await eventuallyTrue(async () => outcomes.includes('StreamStoreUnavailableError'));
      } finally {
        server.resume();
      }
      const failedAt = outcomes.indexOf('StreamStoreUnavailableError');
      await eventuallyTrue(async () => outcomes.slice(failedAt).includes('fulfilled'));
      expect(lost).toEqual([]);
      expect((await log.lookup(stream.id))?.lease).toMatchObject({ owner: 'instance-a', token: 1 });
    } finally {
      keeper.stop();
      server.resume();
      await log.close();
      await server.kill();
    }
  });

  it('a reader that leaves while blocked frees its connection at once for the next reader', async () => {
    // A prefix of its own names this log's follower connections, apart from any other test's.
    const own = uniquePrefix('followers');
    const log = await openRedisStreamLog(REDIS_URL, { keyPrefix: own, leaseMs: 60_000, idleFollowers: 1 });
    const redis = new Redis(REDIS_URL);
    const blockedFollowers = async () => {
      const clients = (await redis.client('LIST')) as string;
      return clients
        .split('\n')
        .filter((line) => line.includes(`name=${own}follower `) && / flags=b /.test(line)).length;
    };
    try {
      const stream = newStream();
      const lease = await log.create(stream);
      const controller = new AbortController();
      const reading = readAll(log, stream.id, { signal: controller.signal }).catch((error: unknown) => error);
      await eventuallyTrue(async () => (await blockedFollowers()) === 1);
      controller.abort();
      expect(await reading).toMatchObject({ name: 'AbortError' });
      await eventuallyTrue(async () => (await blockedFollowers()) === 0);
      // The freed connection serves the next reader.
      const second = readAll(log, stream.id, { signal: AbortSignal.timeout(60_000) });
      await eventuallyTrue(async () => (await blockedFollowers()) === 1);
      await log.finish(lease, { message: null, usage: null });
      expect(await second).toEqual([]);
    } finally {
      redis.disconnect();
      await log.close();
      await deleteKeys(own);
    }
  });

  it('cannot be opened on a Redis that does not answer: a typed 503 naming the URL without its password', async () => {
    const port = await freePort();
    const error = await createStreamLog(`redis://sluice:hunter2@127.0.0.1:${port}/0`).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StreamStoreUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain(`redis://127.0.0.1:${port}/0`);
    expect(message).not.toContain('hunter2');
    expect((error as StreamStoreUnavailableError).status).toBe(503);
  });

  it('createStreamLog picks the store from its spec', async () => {
    const memory: StreamLog = await createStreamLog('memory');
    expect(memory.constructor.name).toBe('MemoryStreamLog');
    await memory.close();
    const redis = await createStreamLog(REDIS_URL, { keyPrefix: prefix });
    expect(redis.constructor.name).toBe('RedisStreamLog');
    await redis.close();
    await expect(createStreamLog('mongodb://x')).rejects.toThrow(/memory" or a redis:/);
  });
});

async function eventuallyTrue(probe: () => Promise<boolean>, withinMs = 5000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

import type { GatewayConfig } from '../config.ts';
import { DATABASE_ENV, existingDefaultDatabase, openDatabase } from '../store/open.ts';
import { KeyRates } from './key-rates.ts';
import { KeyStore } from './key-store.ts';

/** The gateway's key store, the limiters of keys with their own rpm, and how to let go of both. */
export interface OpenKeyStore {
  store: KeyStore;
  rates: KeyRates;
  close(): Promise<void>;
}

/**
 * Opens the database `database` (or SLUICE_DATABASE_URL, already applied to it) names, else
 * the default SQLite file when `sluice keys create` has made it; undefined when there is
 * neither (the gateway then knows only its configured keys). With the stream log in Redis,
 * keys with their own rpm are limited there too, one bucket for every instance.
 */
export async function openKeyStore(
  config: Pick<GatewayConfig, 'database' | 'streams'>,
  env: Record<string, string | undefined> = process.env,
): Promise<OpenKeyStore | undefined> {
  const url = config.database ?? env[DATABASE_ENV] ?? existingDefaultDatabase(env);
  if (url === undefined) return undefined;
  const store = new KeyStore(await openDatabase(url));
  if (!/^rediss?:\/\//.test(config.streams.store)) {
    return { store, rates: new KeyRates(), close: () => store.close() };
  }
  try {
    const [{ connectRedis, redactRedisUrl }, { RedisRateLimiter }] = await Promise.all([
      import('../streams/redis-connection.ts'),
      import('../rate-limit-redis.ts'),
    ]);
    const redis = await connectRedis(
      config.streams.store,
      { enableAutoPipelining: true },
      'shared rate limit',
    );
    const where = redactRedisUrl(config.streams.store);
    // One connection for every rate; each rate's buckets under a prefix of their own.
    const rates = new KeyRates(
      (rpm) =>
        new RedisRateLimiter(redis, where, rpm, { keyPrefix: `${config.streams.keyPrefix}rate:rpm-${rpm}:` }),
    );
    return {
      store,
      rates,
      close: async () => {
        redis.disconnect();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

import { loadConfig } from '../server/config.ts';
import { KeyStore } from '../server/keys/key-store.ts';
import { DATABASE_ENV, defaultDatabasePath, openDatabase } from '../server/store/open.ts';

/**
 * The store `sluice keys` and `sluice usage` work on: the gateway's own, found as `sluice
 * serve` finds it (SLUICE_DATABASE_URL, `database` in the configuration file, else the
 * default SQLite file, created here on first use).
 */
export async function openCliKeyStore(configPath: string | undefined): Promise<KeyStore> {
  const fromEnv = process.env[DATABASE_ENV]?.trim();
  const url =
    (fromEnv || undefined) ??
    loadConfig({ path: configPath }).config.database ??
    `sqlite:${defaultDatabasePath()}`;
  return new KeyStore(await openDatabase(url));
}

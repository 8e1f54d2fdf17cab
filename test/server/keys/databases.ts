import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { SqlDatabase } from '../../../src/server/store/database.ts';
import { openDatabase } from '../../../src/server/store/open.ts';

/** The machine's PostgreSQL (services.md): tests use a schema of their own, dropped after. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresAnswers(): Promise<boolean> {
  const sql = postgres(DATABASE_URL, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Whether the PostgreSQL tests run: in CI (`CI=true`) a database that does not answer fails
 * the run (`.ci/run` starts one); elsewhere they skip, saying why.
 */
export async function postgresForTests(): Promise<boolean> {
  if (await postgresAnswers()) return true;
  const why = `PostgreSQL does not answer at ${DATABASE_URL} (set DATABASE_URL, or start it)`;
  if (process.env.CI === 'true') throw new Error(`${why}: the PostgreSQL tests cannot be skipped in CI.`);
  console.warn(`Skipping the PostgreSQL tests: ${why}.`);
  return false;
}

/** A database for one test run: its URL (the gateway's form), a way to open it, and its removal. */
export interface TestDatabase {
  url: string;
  open(): Promise<SqlDatabase>;
  drop(): Promise<void>;
}

/** A fresh SQLite file in a temporary folder. */
export function sqliteForTest(): TestDatabase {
  const folder = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
  const url = `sqlite:${join(folder, 'sluice.db')}`;
  return {
    url,
    open: () => openDatabase(url),
    drop: async () => rmSync(folder, { recursive: true, force: true }),
  };
}

/** A schema of its own in the machine's PostgreSQL, dropped by `drop`. */
export function postgresForTest(): TestDatabase {
  const schema = `sluice_test_${randomUUID().replaceAll('-', '')}`;
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}search_path=${schema}`;
  return {
    url,
    open: () => openDatabase(url),
    drop: async () => {
      const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  };
}

/** The backends every store test runs against. */
export const BACKENDS = [
  { name: 'sqlite', make: sqliteForTest, available: async () => true },
  { name: 'postgres', make: postgresForTest, available: postgresForTests },
] as const;

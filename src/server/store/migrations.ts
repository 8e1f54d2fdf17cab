import type { SqlDatabase, Statement } from './database.ts';

/**
 * The store's schema, one version at a time: a version once released is never edited, a
 * change is a new version. Each runs in one transaction with its row in `sluice_migrations`;
 * every statement is idempotent, so two instances starting at once cannot break each other
 * (PostgreSQL also serialises them with an advisory lock).
 */
export const MIGRATIONS: readonly { version: number; description: string; statements: readonly string[] }[] =
  [
    {
      version: 1,
      description: 'keys and the call ledger',
      statements: [
        `CREATE TABLE IF NOT EXISTS sluice_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        budget_micros BIGINT,
        period TEXT NOT NULL,
        rpm INTEGER,
        models TEXT,
        spent_micros BIGINT NOT NULL DEFAULT 0,
        reserved_micros BIGINT NOT NULL DEFAULT 0,
        period_start BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
      )`,
        `CREATE TABLE IF NOT EXISTS sluice_calls (
        id TEXT PRIMARY KEY,
        key_id TEXT,
        route TEXT NOT NULL,
        model_requested TEXT NOT NULL,
        model_used TEXT,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        cost_micros BIGINT NOT NULL,
        attempts INTEGER NOT NULL,
        resumes INTEGER NOT NULL,
        fallbacks INTEGER NOT NULL,
        ttft_ms BIGINT,
        duration_ms BIGINT NOT NULL,
        status INTEGER NOT NULL,
        stream_id TEXT,
        created_at BIGINT NOT NULL
      )`,
        'CREATE INDEX IF NOT EXISTS sluice_calls_by_key ON sluice_calls (key_id, created_at)',
        'CREATE INDEX IF NOT EXISTS sluice_calls_by_time ON sluice_calls (created_at)',
      ],
    },
  ];

const LOCK = 'SELECT pg_advisory_xact_lock(7253019)';

/** Brings the database to the latest version; returns the versions it applied. */
export async function migrate(db: SqlDatabase): Promise<number[]> {
  const lock: Statement[] = db.dialect === 'postgres' ? [{ sql: LOCK }] : [];
  await db.batch([
    ...lock,
    {
      sql: 'CREATE TABLE IF NOT EXISTS sluice_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    },
  ]);
  const rows = await db.query('SELECT version FROM sluice_migrations');
  const applied = new Set(rows.map((row) => Number(row.version)));
  const done: number[] = [];
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    await db.batch([
      ...lock,
      ...migration.statements.map((sql) => ({ sql })),
      {
        sql: 'INSERT INTO sluice_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING',
        params: [migration.version, Date.now()],
      },
    ]);
    done.push(migration.version);
  }
  return done;
}

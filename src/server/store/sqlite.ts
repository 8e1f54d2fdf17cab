import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { DatabaseError, type Row, type SqlDatabase, type Statement } from './database.ts';

// The statements are written with PostgreSQL's `$1`; SQLite reads `?1` as the same parameter.
const toSqlite = (sql: string) => sql.replaceAll(/\$(\d+)/g, '?$1');

/**
 * SQLite through `node:sqlite` (nothing to install): the embedded default. The file is
 * created on first use, with its folder. Several processes may share it: SQLite locks the
 * file for each write, and a writer waits up to `busyTimeoutMs` for another's lock.
 */
export function openSqlite(path: string, options: { busyTimeoutMs?: number } = {}): SqlDatabase {
  let db: DatabaseSync;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
    db.exec('PRAGMA journal_mode = WAL');
  } catch (error) {
    throw new DatabaseError(`Cannot open the SQLite database ${path}: ${(error as Error).message}`);
  }
  const run = (statement: Statement): Row[] => {
    const prepared = db.prepare(toSqlite(statement.sql));
    return prepared.all(...((statement.params ?? []) as SQLInputValue[])) as Row[];
  };
  return {
    dialect: 'sqlite',
    location: path,
    query: async (sql, params) => run({ sql, params }),
    batch: async (statements) => {
      // IMMEDIATE takes the write lock at once: two processes cannot both read, then both write.
      db.exec('BEGIN IMMEDIATE');
      try {
        const results = statements.map(run);
        db.exec('COMMIT');
        return results;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    },
    close: async () => {
      if (db.isOpen) db.close();
    },
  };
}

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DatabaseError, type SqlDatabase } from './database.ts';
import { migrate } from './migrations.ts';

/** The environment variable naming the store, over `database` in the configuration. */
export const DATABASE_ENV = 'SLUICE_DATABASE_URL';

/**
 * The embedded default: `sluice.db` in the user's data folder (XDG_DATA_HOME, or
 * ~/.local/share on Linux, ~/Library/Application Support on macOS, %APPDATA% on Windows).
 * `sluice keys` and `sluice serve` both use it, so a key created there works at once.
 */
export function defaultDatabasePath(env: Record<string, string | undefined> = process.env): string {
  const home = env.HOME ?? homedir();
  const folder =
    env.XDG_DATA_HOME ||
    (process.platform === 'darwin'
      ? join(home, 'Library', 'Application Support')
      : process.platform === 'win32'
        ? (env.APPDATA ?? join(home, 'AppData', 'Roaming'))
        : join(home, '.local', 'share'));
  return join(folder, 'sluice', 'sluice.db');
}

/** `sqlite:PATH` or `postgres://…`: what `database` and SLUICE_DATABASE_URL accept. */
export function isDatabaseUrl(value: string): boolean {
  return /^sqlite:.+/.test(value) || /^postgres(ql)?:\/\/.+/.test(value);
}

/** The default store's URL when its file exists (the gateway does not create it: `sluice keys create` does). */
export function existingDefaultDatabase(env?: Record<string, string | undefined>): string | undefined {
  const path = defaultDatabasePath(env);
  return existsSync(path) ? `sqlite:${path}` : undefined;
}

/**
 * Opens the store a URL names and brings its schema up to date. PostgreSQL's client is
 * imported only here: `postgres` is an optional peer dependency.
 */
export async function openDatabase(url: string, options: { schema?: string } = {}): Promise<SqlDatabase> {
  let db: SqlDatabase;
  if (url.startsWith('sqlite:')) {
    // Imported when used: a gateway or command without a database loads nothing of SQLite.
    const { openSqlite } = await import('./sqlite.ts');
    db = openSqlite(url.slice('sqlite:'.length));
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    let driver: typeof import('./postgres.ts');
    try {
      driver = await import('./postgres.ts');
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /'postgres'/.test(String(error))) {
        throw new DatabaseError(
          'database names a PostgreSQL URL, which needs postgres, an optional dependency of sluice that is not installed: run `npm install postgres` (or use sqlite:PATH).',
        );
      }
      throw error;
    }
    db = await driver.openPostgres(url, options);
  } else {
    throw new DatabaseError(
      `Expected sqlite:PATH or a postgres:// URL for the database, got '${url.split(':')[0]}:…'.`,
    );
  }
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw new DatabaseError(`Cannot migrate the database ${db.location}: ${(error as Error).message}`);
  }
  return db;
}

import { homedir } from 'node:os';
import { join } from 'node:path';

type Env = Record<string, string | undefined>;

/**
 * The folder where the CLI keeps the user's things (the log, templates, the logs-off
 * switch), as each system wants it: `$XDG_DATA_HOME/sluice` (else `~/.local/share/sluice`)
 * on Linux, `~/Library/Application Support/sluice` on macOS, `%APPDATA%\sluice` on Windows.
 * `SLUICE_USER_DIR` moves it (tests, several profiles).
 */
export function userDir(env: Env = process.env): string {
  if (env.SLUICE_USER_DIR) return env.SLUICE_USER_DIR;
  if (process.platform === 'win32')
    return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'sluice');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'sluice');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'sluice');
}

/** The SQLite log: `SLUICE_LOGS_DB`, else `logs.db` in the user folder. */
export function logsDbPath(env: Env = process.env): string {
  return env.SLUICE_LOGS_DB || join(userDir(env), 'logs.db');
}

/** While this file exists (`sluice logs off`), nothing is logged. */
export function logsOffPath(env: Env = process.env): string {
  return join(userDir(env), 'logs-off');
}

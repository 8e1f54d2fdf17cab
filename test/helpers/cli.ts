import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliMain = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

// The CLI logs every answer in the user's folder: the tests' runs go to a folder of their own.
const userDir = mkdtempSync(join(tmpdir(), 'sluice-cli-user-'));
process.once('exit', () => rmSync(userDir, { recursive: true, force: true }));

/** The environment of a user without keys: the unpaced simulator is the default model. */
export const BASE_ENV: Record<string, string> = {
  SLUICE_USER_DIR: userDir,
  SLUICE_LOGS_DB: '',
  SLUICE_SIM_TTFT_MS: '0',
  SLUICE_SIM_TPS: '0',
  ANTHROPIC_API_KEY: '',
  SLUICE_MODEL: '',
  NO_COLOR: '',
};

// Far above the second or so a run takes: a CLI that does not exit by itself fails its test.
const EXIT_TIMEOUT_MS = 10_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sluice …` as a child process (stdin piped or empty); rejects if it has not exited in time. */
export function runSluice(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, [cliMain, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...BASE_ENV, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`sluice ${args.join(' ')} did not exit within ${EXIT_TIMEOUT_MS} ms; stderr: ${stderr}`),
      );
    }, EXIT_TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

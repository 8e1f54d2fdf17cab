/**
 * Every process and temporary directory the gateway bench creates goes through here, so all of
 * them are removed however the bench ends: normally, on an error, or on Ctrl-C.
 */
import { type ChildProcess, fork, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The last bytes a child printed are kept, so a failure can quote its real error message. */
const OUTPUT_TAIL_BYTES = 64 * 1024;

export interface Tracked {
  name: string;
  child: ChildProcess;
  pid: number;
  /** What the child printed on stdout and stderr (the last 64 KiB), interleaved. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the child has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Tracked>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

export function spawnTracked(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Tracked {
  installCleanup();
  return track(name, spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** A Node child with an IPC channel (the simulator, the load generator), on this Node. */
export function forkTracked(name: string, module: URL, args: string[] = []): Tracked {
  installCleanup();
  // 'advanced' (structured clone): results hold NaN (no samples), which JSON would turn into null.
  return track(
    name,
    fork(module, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' }),
  );
}

function track(name: string, child: ChildProcess): Tracked {
  if (child.pid === undefined) throw new Error(`${name} could not be started`);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const tracked: Tracked = {
    name,
    child,
    pid: child.pid,
    output: () => tail,
    exited,
    async stop(graceMs = 2000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      live.delete(tracked);
    },
  };
  live.add(tracked);
  void exited.then(() => live.delete(tracked));
  return tracked;
}

/** A fresh directory under the system's temp dir, removed when the bench ends. */
export function makeTempDir(prefix: string): string {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Stops every child still running and removes every temp dir. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...live].map((tracked) => tracked.stop()));
  for (const dir of tempDirs) removeTempDir(dir);
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  // Last resort (an uncaught error, process.exit): only synchronous work is possible here.
  process.once('exit', () => {
    for (const tracked of live) tracked.child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the bench's processes…`);
      void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

/** A TCP port free right now on 127.0.0.1 (for servers that cannot listen on port 0 and say which). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** Resolves once `tracked` has printed something matching `pattern`; rejects if it exits first. */
export function printed(tracked: Tracked, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    // The tracker's own listener came first, so output() already holds each chunk seen here.
    const check = () => {
      if (!pattern.test(tracked.output())) return false;
      tracked.child.stdout?.off('data', check);
      resolve();
      return true;
    };
    if (check()) return;
    tracked.child.stdout?.on('data', check);
    void tracked.exited.then((code) =>
      reject(
        new Error(
          `${tracked.name} exited (${code}) before printing ${pattern}:\n${tracked.output().slice(-2000)}`,
        ),
      ),
    );
  });
}

/** Resolves once something accepts TCP connections on the port; rejects if `child` exits first. */
export async function waitForPort(port: number, child: Tracked, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited before listening:\n${child.output().slice(-2000)}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.name} did not listen on port ${port} within ${timeoutMs / 1000} s`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface ServerProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: Tracked;
}

/**
 * A server in a process of its own on a free port, once it accepts connections: `args` gets
 * the port (for servers that take it on the command line; others read `PORT` from the env).
 */
export async function startServerProcess(
  name: string,
  command: string,
  args: (port: number) => string[],
  options: SpawnOptions = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawnTracked(name, command, args(port), {
    ...options,
    env: { ...process.env, ...options.env, PORT: String(port) },
  });
  try {
    await waitForPort(port, child);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, port, process: child };
}

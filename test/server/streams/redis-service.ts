import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** The machine's Redis (services.md): tests use it under a key prefix of their own. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers PING at `url` within a second. */
export async function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Whether the Redis tests run. In CI (`CI=true`) a Redis that does not answer fails the run
 * (`.ci/run` starts one); elsewhere the tests skip, saying why.
 */
export async function redisForTests(): Promise<boolean> {
  if (await redisAnswers()) return true;
  const why = `Redis does not answer at ${REDIS_URL} (set REDIS_URL, or start redis-server)`;
  if (process.env.CI === 'true') throw new Error(`${why}: the Redis tests cannot be skipped in CI.`);
  console.warn(`Skipping the Redis tests: ${why}.`);
  return false;
}

/** A key prefix no other run uses, so parallel runs and leftovers never meet. */
export function uniquePrefix(name: string): string {
  return `sluice-test:${name}:${randomUUID()}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis went away (the restart test's private server): nothing left to clean.
  } finally {
    redis.disconnect();
  }
}

/** A port nobody listens on now: bound by the kernel's choice, then closed. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A private `redis-server` on a free port, keeping nothing on disk: for tests that stop and
 * restart Redis, which must never touch the machine's shared one.
 */
export class PrivateRedis {
  readonly port: number;
  private child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Starts the server (again, on the same port) and resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited (${code}) before it was ready: ${output}`)),
      );
      child.once('error', reject);
    });
  }

  /** Kills the server at once (SIGKILL: no goodbye to the clients) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.child = undefined;
  }

  /** Stops the server without closing a connection (SIGSTOP): it is there, and answers nothing. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Lets a paused server go on (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}

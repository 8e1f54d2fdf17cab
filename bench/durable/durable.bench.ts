/**
 * `npm run bench:durable`: what durable streams cost and how fast they answer, in about a
 * minute. Two `sluice serve` processes (A, B) share one Redis stream log (a key prefix unique
 * to this run, deleted at the end) in front of the paced simulator; everything is on 127.0.0.1.
 *   1. Redis commands per stream: `INFO commandstats` before and after N streams through A.
 *   2. Reconnect → first replayed byte (after 20 warm-up reconnects to each instance, so that
 *      cold code is not measured), with STREAMS streams held open on A (started evenly over
 *      one event interval, so their events do not all arrive in the same millisecond): each one, having
 *      "lost" its connection after event 5, reconnects over a fresh TCP connection with
 *      `Last-Event-ID: 5` to A, then to B, once a few events were sent since (so there is
 *      something to replay); the reconnects are spread over a second.
 *   3. Takeover: a reader follows a stream on B, A is SIGKILLed mid-answer; the time from the
 *      kill to the first continued event at the reader, TAKEOVER_TRIALS times.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanupAll,
  makeTempDir,
  printed,
  type ServerProcess,
  startServerProcess,
} from '../gateway/children.ts';
import { anthropicRequest } from '../gateway/requests.ts';
import { startUpstream, type Upstream } from '../gateway/workers.ts';
import { formatTable } from '../harness.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SLUICE_CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RESULTS = new URL('../results/durable.json', import.meta.url);
const KEY_PREFIX = `sluice-bench-durable:${process.pid}:${Date.now()}:`;

/** Streams held during the reconnects; BENCH_DURABLE_STREAMS overrides (a smaller run shows the cost of load). */
const STREAMS = Number(process.env.BENCH_DURABLE_STREAMS ?? 100);
const COMMANDSTATS_STREAMS = 50;
const TAKEOVER_TRIALS = Number(process.env.BENCH_DURABLE_TAKEOVERS ?? 3);
const LEASE_MS = 3000;
/** Upstream pacing: the reconnect phase's answers last ~2.6 s, the takeover's ~6.4 s (killed at ~1 s). */
const PACING = { ttftMs: 200, tokensPerSecond: 25 };
/**
 * The reconnects are spread over STREAMS × this (1 s), all while every stream is still live:
 * a hundred clients reconnecting in the same millisecond measure the queue, not a reconnect
 * (that herd measured ~500 ms at p50 on a 2-core machine).
 */
const RECONNECT_SPACING_MS = 10;
const TAKEOVER_PACING = { ttftMs: 200, tokensPerSecond: 10 };
/** Every wait in the bench is bounded by this. */
const STEP_TIMEOUT_MS = 30_000;

const GOALS = { sameP99Ms: 5, crossP99Ms: 10, takeoverSlackMs: 50 };

function redis(...args: string[]): string {
  return execFileSync('redis-cli', ['-u', REDIS_URL, ...args], { encoding: 'utf8' });
}

function commandCalls(): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of redis('info', 'commandstats').matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

function deleteRunKeys(): number {
  const keys = redis('--scan', '--pattern', `${KEY_PREFIX}*`).split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) redis('del', ...keys.slice(i, i + 500));
  return keys.length;
}

async function startSluice(name: string, upstream: Upstream): Promise<ServerProcess> {
  const config = join(makeTempDir('sluice-bench-durable-'), 'sluice.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      providers: { upstream: { type: 'anthropic', baseURL: upstream.url, apiKeyEnv: 'BENCH_UPSTREAM_KEY' } },
      defaultModel: 'upstream:default',
      streams: { store: REDIS_URL, keyPrefix: KEY_PREFIX, leaseMs: LEASE_MS },
    }),
  );
  const server = await startServerProcess(
    name,
    process.execPath,
    (port) => [SLUICE_CLI, 'serve', '--port', String(port), '--config', config],
    { env: { BENCH_UPSTREAM_KEY: 'sk-bench' } },
  );
  await printed(server.process, /listening on/);
  return server;
}

interface SseEvent {
  id: number;
  at: number;
}

interface OpenStream {
  streamId: string;
  token: string;
  /** Resolves when the answer has ended (or the connection broke). */
  done: Promise<void>;
  onEvent(listener: (event: SseEvent) => void): void;
  abort(): void;
}

/** Streams an answer through `server`, over a connection of its own; resolves once the headers came. */
function openStream(server: ServerProcess): Promise<OpenStream> {
  const spec = anthropicRequest(server.url, {}, 'upstream:default');
  return new Promise((resolve, reject) => {
    const listeners: ((event: SseEvent) => void)[] = [];
    const req = request(
      `${server.url}${spec.path}`,
      {
        method: 'POST',
        agent: false,
        headers: { ...spec.headers, 'content-type': 'application/json' },
      },
      (res) => {
        const streamId = res.headers['sluice-stream-id'];
        const token = res.headers['sluice-resume-token'];
        if (res.statusCode !== 200 || typeof streamId !== 'string' || typeof token !== 'string') {
          reject(new Error(`POST /v1/messages answered ${res.statusCode} without a stream id`));
          res.resume();
          return;
        }
        let buffer = '';
        const done = new Promise<void>((end) => {
          res.on('end', end);
          res.on('error', () => end());
          res.on('close', end);
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut = buffer.indexOf('\n\n');
          while (cut >= 0) {
            const id = /^id: ?(\d+)/m.exec(buffer.slice(0, cut))?.[1];
            buffer = buffer.slice(cut + 2);
            if (id !== undefined) {
              const event = { id: Number(id), at: performance.now() };
              for (const listener of listeners) listener(event);
            }
            cut = buffer.indexOf('\n\n');
          }
        });
        resolve({
          streamId,
          token,
          done,
          onEvent: (listener) => listeners.push(listener),
          abort: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** Resolves with the first event whose id is at least `id`. */
function eventAtLeast(stream: OpenStream, id: number): Promise<SseEvent> {
  return new Promise((resolve) => stream.onEvent((event) => event.id >= id && resolve(event)));
}

/**
 * `GET /v1/streams/{id}` after `lastEventId`, over a fresh TCP connection (a client after a
 * network change); the ms from sending the request to the first byte of the replayed body.
 */
function reconnect(server: ServerProcess, stream: OpenStream, lastEventId: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = `${server.url}/v1/streams/${stream.streamId}?token=${encodeURIComponent(stream.token)}`;
    const started = performance.now();
    const req = request(
      url,
      { agent: false, headers: { accept: 'text/event-stream', 'last-event-id': String(lastEventId) } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /v1/streams answered ${res.statusCode}`));
          res.resume();
          return;
        }
        res.once('data', () => {
          resolve(performance.now() - started);
          req.destroy();
        });
      },
    );
    req.setTimeout(STEP_TIMEOUT_MS, () => req.destroy(new Error('reconnect timed out')));
    req.on('error', (error) => reject(error));
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took over ${STEP_TIMEOUT_MS / 1000} s`)),
      STEP_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function commandsPerStream(a: ServerProcess) {
  const before = commandCalls();
  const streams = await Promise.all(Array.from({ length: COMMANDSTATS_STREAMS }, () => openStream(a)));
  await withTimeout(Promise.all(streams.map((stream) => stream.done)), 'the commandstats streams');
  const after = commandCalls();
  const perCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, calls] of after) {
    const delta = calls - (before.get(command) ?? 0);
    if (delta <= 0 || command === 'info') continue;
    perCommand[command] = delta / COMMANDSTATS_STREAMS;
    total += delta;
  }
  return { streams: COMMANDSTATS_STREAMS, total: total / COMMANDSTATS_STREAMS, perCommand };
}

/** Reconnects this many times to each instance before measuring: the first ones run cold code. */
const WARM_UP_RECONNECTS = 20;

async function reconnects(a: ServerProcess, b: ServerProcess) {
  const warmUp = await openStream(a);
  await withTimeout(eventAtLeast(warmUp, 8), 'the warm-up stream');
  for (let i = 0; i < WARM_UP_RECONNECTS; i++) {
    await reconnect(a, warmUp, 5);
    await reconnect(b, warmUp, 5);
  }
  await warmUp.done;
  // Started evenly over one event interval, as independent clients would be: started in the
  // same millisecond, all of them get their events in the same millisecond too, and every
  // reconnect would queue behind a burst of a hundred events (a bench artefact, not a load).
  const spacingMs = 1000 / PACING.tokensPerSecond / STREAMS;
  const streams = await Promise.all(
    Array.from({ length: STREAMS }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * spacingMs));
      return openStream(a);
    }),
  );
  const same: number[] = [];
  const cross: number[] = [];
  await withTimeout(
    Promise.all(
      streams.map(async (stream, index) => {
        // Lost after 5, back once 8 was sent: events from 6 on are replayed from the log.
        await eventAtLeast(stream, 8);
        await new Promise((resolve) => setTimeout(resolve, index * RECONNECT_SPACING_MS));
        same.push(await reconnect(a, stream, 5));
        cross.push(await reconnect(b, stream, 5));
        await stream.done;
      }),
    ),
    'the reconnect phase',
  );
  const stats = (samples: number[]) => {
    const sorted = samples.toSorted((x, y) => x - y);
    return {
      n: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1)!,
    };
  };
  return { same: stats(same), cross: stats(cross) };
}

/** Follows `stream` through B from the start; resolves each event as it arrives. */
function follow(b: ServerProcess, stream: OpenStream, onEvent: (at: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = `${b.url}/v1/streams/${stream.streamId}?token=${encodeURIComponent(stream.token)}`;
    const req = request(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          if (/^id: ?\d+/m.test(buffer.slice(0, cut))) onEvent(performance.now());
          buffer = buffer.slice(cut + 2);
          cut = buffer.indexOf('\n\n');
        }
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function takeover(upstream: Upstream, b: ServerProcess): Promise<number> {
  const a = await startSluice('sluice serve A (to be killed)', upstream);
  const stream = await openStream(a);
  let killedAt = Number.POSITIVE_INFINITY;
  let continuedAt: number | undefined;
  const followed = follow(b, stream, (at) => {
    // The dead producer's last events reach the reader within ms of the kill; the
    // continuation cannot come before the lease (3 s) ran out, so the first event well
    // after the kill is the continued one.
    if (continuedAt === undefined && at > killedAt + 500) continuedAt = at;
  });
  await withTimeout(eventAtLeast(stream, 10), 'the takeover answer');
  killedAt = performance.now();
  a.process.child.kill('SIGKILL');
  await a.process.exited;
  await withTimeout(followed, 'the taken-over answer');
  if (continuedAt === undefined) throw new Error('the reader got no continued event after the kill');
  return continuedAt - killedAt;
}

async function main() {
  const upstream = await startUpstream(PACING);
  const slowUpstream = await startUpstream(TAKEOVER_PACING);
  const a = await startSluice('sluice serve A', upstream);
  const b = await startSluice('sluice serve B', slowUpstream);
  console.log(`Redis ${REDIS_URL}, key prefix ${KEY_PREFIX}, leaseMs ${LEASE_MS}`);

  const commands = await commandsPerStream(a);
  const reconnect = await reconnects(a, b);
  await a.process.stop();
  const takeovers: number[] = [];
  for (let trial = 0; trial < TAKEOVER_TRIALS; trial++) takeovers.push(await takeover(slowUpstream, b));
  await b.process.stop();

  const takeoverGoal = LEASE_MS + TAKEOVER_PACING.ttftMs + GOALS.takeoverSlackMs;
  const ms = (value: number) => value.toFixed(2);
  console.log(
    `\n${formatTable(
      ['measure', 'where', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [
        [
          'reconnect → first replayed byte',
          'same instance',
          String(reconnect.same.n),
          ms(reconnect.same.p50),
          ms(reconnect.same.p99),
          ms(reconnect.same.max),
        ],
        [
          'reconnect → first replayed byte',
          'other instance',
          String(reconnect.cross.n),
          ms(reconnect.cross.p50),
          ms(reconnect.cross.p99),
          ms(reconnect.cross.max),
        ],
        ...takeovers.map((value, trial) => [
          `takeover after SIGKILL #${trial + 1}`,
          'reader on B',
          '1',
          ms(value),
          '',
          '',
        ]),
      ],
    )}`,
  );
  console.log(
    `\nRedis commands per stream (${commands.streams} streams through one instance): ${commands.total.toFixed(1)} — ` +
      Object.entries(commands.perCommand)
        .sort((x, y) => y[1] - x[1])
        .map(([command, calls]) => `${command} ${calls.toFixed(1)}`)
        .join(', '),
  );
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const goals = [
    `reconnect p99 same instance < ${GOALS.sameP99Ms} ms: ${ms(reconnect.same.p99)} ${verdict(reconnect.same.p99 < GOALS.sameP99Ms)}`,
    `reconnect p99 across instances < ${GOALS.crossP99Ms} ms: ${ms(reconnect.cross.p99)} ${verdict(reconnect.cross.p99 < GOALS.crossP99Ms)}`,
    `takeover within lease + TTFT + 50 ms (${takeoverGoal} ms): worst ${ms(Math.max(...takeovers))} ${verdict(Math.max(...takeovers) <= takeoverGoal)}`,
  ];
  console.log(`\nGoals:\n  ${goals.join('\n  ')}`);

  mkdirSync(new URL('.', RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        streams: STREAMS,
        leaseMs: LEASE_MS,
        pacing: PACING,
        takeoverPacing: TAKEOVER_PACING,
        reconnectMs: reconnect,
        takeoverMs: takeovers,
        takeoverGoalMs: takeoverGoal,
        redisCommandsPerStream: commands,
        goals,
      },
      null,
      2,
    )}\n`,
  );
}

try {
  await main();
} finally {
  await cleanupAll();
  console.log(`deleted ${deleteRunKeys()} Redis keys under ${KEY_PREFIX}`);
}

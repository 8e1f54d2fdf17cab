/**
 * Where a gateway's memory per held stream goes (issue 20's memory goal).
 *
 *   node_modules/.bin/node bench/gateway/memory-probe.ts [sluice|node-pipe] [N=1000]
 *
 * Environment: `PROBE_TPS` the held streams' pacing (5 deltas a second, as the bench's held
 * phase; 10 halves the run), `PROBE_PASS=rss|heap` one pass only, `PROBE_FULL=1` the full relay
 * instead of the pass-through, `PROBE_DIR` keep the snapshots there, `PROBE_TOP` rows shown.
 * Each pass starts its own gateway (memory log) in front of the paced simulator, preloaded with
 * memory-probe-hook.ts (SIGUSR2: figures before and after a full GC, and a heap snapshot;
 * SIGWINCH: figures alone).
 * - rss: the gateway bench's held sequence (a warm-up of N streams, then N slots of two, ramped
 *   over a stream's length): (peak − idle) ÷ N as the bench counts it, and halfway through, what
 *   the growth is made of (V8 heap committed and used, external, the native rest). ~40 s at 10/s.
 * - heap: snapshots at idle (after a small JIT warm-up), after N answers run to their end at a
 *   fast pace (for Sluice: what the memory log keeps of ended streams), and a third of the way
 *   into N held streams; per stream, V8 heap used before and after the full GC (the difference is
 *   garbage not yet collected) and the snapshot diff grouped by V8 node type and constructor.
 *   ~30 s. Both under one core.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cleanupAll, makeTempDir, printed, type ServerProcess, startServerProcess } from './children.ts';
import { PeakSampler, rssBytes } from './procstat.ts';
import { anthropicRequest, EXPECTED_DELTAS } from './requests.ts';
import { startLoadGenerator, startUpstream } from './workers.ts';

const target = process.argv[2] ?? 'sluice';
const n = Number(process.argv[3] ?? 1000);
const heldTps = Number(process.env.PROBE_TPS ?? 5);
// PROBE_DIR keeps the snapshots there (for a look at retainers); otherwise a temp dir, removed.
const dir = process.env.PROBE_DIR ?? makeTempDir('sluice-memory-probe-');
const hook = fileURLToPath(new URL('./memory-probe-hook.ts', import.meta.url));
const slow = await startUpstream({ ttftMs: 0, tokensPerSecond: heldTps });
const fast = target === 'sluice' ? await startUpstream({ ttftMs: 0, tokensPerSecond: 2000 }) : undefined;
const RAMP_MS = 2000;
const nodeFlags = ['--import', hook];
const env = { BENCH_UPSTREAM_KEY: 'sk-bench', MEMORY_PROBE_DIR: dir };

/** A fresh gateway: the RSS pass and the snapshot pass each get their own. */
async function startGateway(): Promise<ServerProcess> {
  if (target === 'sluice') {
    const config = join(dir, 'sluice.config.json');
    const provider = (url: string) => ({ type: 'anthropic', baseURL: url, apiKeyEnv: 'BENCH_UPSTREAM_KEY' });
    writeFileSync(
      config,
      JSON.stringify({
        providers: { slow: provider(slow.url), fast: provider(fast!.url) },
        defaultModel: 'slow:default',
        server: { passThrough: process.env.PROBE_FULL !== '1' },
        streams: { store: 'memory' },
      }),
    );
    const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const server = await startServerProcess(
      'sluice serve',
      process.execPath,
      (port) => [...nodeFlags, cli, 'serve', '--port', String(port), '--config', config],
      { env },
    );
    await printed(server.process, /listening on/);
    return server;
  }
  if (target === 'node-pipe') {
    const pipe = fileURLToPath(new URL('./node-pipe.ts', import.meta.url));
    return startServerProcess(
      'node-pipe',
      process.execPath,
      (port) => [...nodeFlags, pipe, String(port), slow.url],
      {
        env,
      },
    );
  }
  throw new TypeError(`memory-probe: unknown target ${target} (sluice or node-pipe)`);
}

const load = await startLoadGenerator();
const run = (server: ServerProcess, model: 'slow' | 'fast', concurrency: number) =>
  load.run({
    request: anthropicRequest(server.url, {}, target === 'sluice' ? `${model}:default` : 'default'),
    concurrency,
    streamsPerSlot: 1,
    // A burst of N new connections would time handshakes; two seconds spread them.
    rampMs: model === 'slow' ? RAMP_MS : 0,
    expectedDeltas: EXPECTED_DELTAS,
  });

interface Figures {
  rss: number;
  heapUsed: number;
  heapCommitted: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
}
interface Step {
  name: string;
  before: Figures;
  after: Figures;
  groups: Map<string, { count: number; size: number }>;
}

let figured = 0;
/** The gateway's memory figures now, without a GC (SIGWINCH to the hook). */
async function figures(pid: number): Promise<Figures> {
  const file = join(dir, `figures-${++figured}.json`);
  process.kill(pid, 'SIGWINCH');
  for (;;) {
    await sleep(50);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Figures;
    } catch {
      // Not written yet.
    }
  }
}

let taken = 0;
/** Signals the hook, then waits until the gateway answers again (the snapshot blocks it). */
async function snapshot(pid: number, name: string): Promise<Step> {
  const file = join(dir, `probe-${++taken}`);
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await sleep(200);
    try {
      const { before, after } = JSON.parse(readFileSync(`${file}.json`, 'utf8'));
      return { name, before, after, groups: groupHeap(`${file}.heapsnapshot`) };
    } catch {
      // Not written yet.
    }
  }
}

/** Self sizes of the live heap, by V8 node type and constructor (strings and code by type only). */
function groupHeap(path: string): Map<string, { count: number; size: number }> {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const groups = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt!]!]!;
    const byType = /string|code|number|bigint|symbol|regexp/.test(type);
    const key = byType ? `(${type})` : `${type} ${heap.strings[heap.nodes[i + nameAt!]!]!.slice(0, 60)}`;
    const group = groups.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += heap.nodes[i + sizeAt!]!;
    groups.set(key, group);
  }
  return groups;
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

function diff(from: Step, to: Step, streams: number): void {
  const per = (a: number, b: number) => kb((b - a) / streams);
  console.log(`\n--- ${from.name} → ${to.name}, per stream (${streams}) ---`);
  console.log(
    `V8 heap used before GC ${per(from.before.heapUsed, to.before.heapUsed)}, after GC ${per(from.after.heapUsed, to.after.heapUsed)}` +
      ` (garbage at the snapshot ${kb((to.before.heapUsed - to.after.heapUsed) / streams)}); external ${per(from.after.external, to.after.external)}` +
      ` (array buffers ${per(from.after.arrayBuffers, to.after.arrayBuffers)}); malloced ${per(from.after.mallocedMemory, to.after.mallocedMemory)}; RSS ${per(from.before.rss, to.before.rss)}`,
  );
  const keys = new Set([...from.groups.keys(), ...to.groups.keys()]);
  const rows = [...keys]
    .map((key) => {
      const a = from.groups.get(key) ?? { count: 0, size: 0 };
      const b = to.groups.get(key) ?? { count: 0, size: 0 };
      return { key, count: (b.count - a.count) / streams, size: (b.size - a.size) / streams };
    })
    .sort((a, b) => b.size - a.size);
  const total = rows.reduce((sum, row) => sum + row.size, 0);
  console.log(`snapshot self sizes: ${total.toFixed(0)} B per stream; the largest groups:`);
  for (const row of rows.slice(0, Number(process.env.PROBE_TOP ?? 40))) {
    if (Math.abs(row.size) < 8) continue;
    console.log(`${row.size.toFixed(0).padStart(8)} B ${row.count.toFixed(2).padStart(7)}×  ${row.key}`);
  }
}

/**
 * The gateway bench's held-streams sequence, without snapshots (they take memory of their
 * own): idle, a warm-up of N streams, then N slots of two streams each, both ramped over one
 * stream's length; RSS sampled every 100 ms throughout, the figures taken halfway through.
 */
async function rssPass(): Promise<void> {
  const server = await startGateway();
  const pid = server.process.pid;
  await run(server, 'fast', 10);
  await sleep(500);
  const idle = rssBytes(pid)!;
  const atIdle = await figures(pid);
  const sampler = new PeakSampler([pid]);
  const streamMs = (EXPECTED_DELTAS * 1000) / heldTps;
  const paced = (streamsPerSlot: number) =>
    load.run({
      request: anthropicRequest(server.url, {}, target === 'sluice' ? 'slow:default' : 'default'),
      concurrency: n,
      streamsPerSlot,
      rampMs: streamMs,
      expectedDeltas: EXPECTED_DELTAS,
      deadlineMs: (streamsPerSlot + 2) * streamMs + 10_000,
    });
  await paced(1);
  const holding = paced(2);
  await sleep(streamMs);
  const atHeld = await figures(pid);
  const held = await holding;
  const peak = sampler.stop();
  const per = (key: keyof Figures) => kb((atHeld[key] - atIdle[key]) / n);
  const native = (f: Figures) => f.rss - f.heapCommitted - f.external;
  console.log(
    `${target}: RSS idle ${kb(idle)}, peak ${kb(peak)} (${held.errors} errors, ${held.stalled} stalled); ` +
      `(peak − idle) ÷ N = ${kb((peak - idle) / n)} per held stream, as the gateway bench counts it`,
  );
  console.log(
    `  halfway, over idle, per stream (no GC forced): RSS ${per('rss')}; V8 heap committed ${per('heapCommitted')}, ` +
      `used ${per('heapUsed')}; external ${per('external')} (array buffers ${per('arrayBuffers')}); ` +
      `the rest (native: sockets, parsers, malloc) ${kb((native(atHeld) - native(atIdle)) / n)}`,
  );
  await server.process.stop();
}

/** Snapshots at idle, after N ended answers (Sluice) and with N held, and their diffs. */
async function heapPass(): Promise<void> {
  const server = await startGateway();
  const pid = server.process.pid;
  await run(server, 'fast', 10);
  await sleep(500);
  const idle = await snapshot(pid, 'idle');
  let ended: Step | undefined;
  if (target === 'sluice') {
    await run(server, 'fast', n);
    ended = await snapshot(pid, `${n} ended`);
  }
  const held = run(server, 'slow', n);
  // A third of the way in: every stream open and waiting between events.
  await sleep(RAMP_MS + (EXPECTED_DELTAS * 1000) / heldTps / 3);
  const holding = await snapshot(pid, `${n} held`);
  await held;
  if (ended) {
    diff(idle, ended, n);
    diff(ended, holding, n);
  } else {
    diff(idle, holding, n);
  }
  await server.process.stop();
}

if (process.env.PROBE_PASS !== 'heap') await rssPass();
if (process.env.PROBE_PASS !== 'rss') await heapPass();
await cleanupAll();
process.exit(0);

/**
 * `npm run bench:gateway`: what a streaming gateway adds. The upstream is `sluice simulate`
 * streaming 64 deltas 20 ms apart; a load generator opens N concurrent streams directly (the
 * floor), through nginx (a proxy that understands nothing), through Portkey, and through the
 * Sluice gateway, and measures TTFT, the gaps between frames, errors, stalls, and the gateway's
 * CPU and memory. Simulator, load generator and each gateway are separate processes.
 *
 * Two phases, each with its own simulator. Latency: N = BENCH_N (default 1,100,1000) with a
 * delta every 20 ms (BENCH_TPS=50). Held streams: N = BENCH_HELD_N (default 2000,5000) with a
 * delta every 200 ms (BENCH_HELD_TPS=5): 5000 streams at 50 deltas/s would be 250,000 frames a
 * second on every hop, more than two cores can produce, carry and consume at once, so that
 * phase measures what holding many streams costs (memory, stalls) at a rate the machine can
 * carry. A path that stalls or errors is not run at higher N in its phase. Prints the table,
 * writes bench/results/gateway.json and bench/results/gateway.svg.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { machine } from '../machine.ts';
import { renderChart, type Series } from './chart.ts';
import { cleanupAll } from './children.ts';
import type { LoadOptions } from './load.ts';
import { PATHS, type PathDefinition, type StartedPath } from './paths.ts';
import { PeakSampler, totalCpuMs, totalRssBytes } from './procstat.ts';
import { derive, floorOf, goalLines, type Row, table } from './report.ts';
import { anthropicRequest, EXPECTED_DELTAS, openaiRequest, PROMPT } from './requests.ts';
import { type LoadGenerator, startLoadGenerator, startUpstream, type Upstream } from './workers.ts';

/** A phase: one upstream pacing and the N values run with it. */
interface Phase {
  name: string;
  ns: number[];
  /** A delta every 1000 / tokensPerSecond ms from the first byte on. */
  pacing: { ttftMs: number; tokensPerSecond: number };
}

const PHASES: Phase[] = [
  {
    name: 'latency',
    ns: nValues('BENCH_N', [1, 100, 1000]),
    pacing: { ttftMs: 0, tokensPerSecond: numberFromEnvironment('BENCH_TPS', 50) },
  },
  {
    name: 'held streams',
    ns: nValues('BENCH_HELD_N', [2000, 5000]),
    pacing: { ttftMs: 0, tokensPerSecond: numberFromEnvironment('BENCH_HELD_TPS', 5) },
  },
].filter((phase) => phase.ns.length > 0);

/** BENCH_PATHS=sluice,node-pipe runs only those (and the direct floors they are compared with). */
function selectedPaths(): PathDefinition[] {
  const raw = process.env.BENCH_PATHS;
  if (raw === undefined || raw.trim() === '') return PATHS;
  const names = raw.split(',').map((name) => name.trim());
  const known = PATHS.map((path) => path.name);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new TypeError(
      `BENCH_PATHS names unknown paths (${unknown.join(', ')}); the paths are ${known.join(', ')}`,
    );
  }
  return PATHS.filter((path) => path.name.startsWith('direct') || names.includes(path.name));
}

const gapMs = (phase: Phase) => 1000 / phase.pacing.tokensPerSecond;
/** One stream's length: 64 deltas, paced. */
const streamMs = (phase: Phase) => EXPECTED_DELTAS * gapMs(phase);
/**
 * Streams start evenly over one stream's length, then each slot runs its next stream at once:
 * N streams held open, arriving at N per stream length (BENCH_RAMP_MS=0: all N at once, a burst).
 */
const rampMs = (phase: Phase) => numberFromEnvironment('BENCH_RAMP_MS', streamMs(phase));
/**
 * Streams each slot runs; at N = 1 it takes 20 streams, one after the other, to have percentiles
 * (p99 of 20 is the worst of them: BENCH_SAMPLES=200 makes it a percentile, at 26 s a path per 20).
 */
const MIN_STREAMS_PER_SLOT = 2;
const MIN_SAMPLES = positiveInteger('BENCH_SAMPLES', 20);
/** Warm-up streams at small N (JIT, connection pools), never fewer. */
const MIN_WARMUP_STREAMS = 10;
/** A run's hard deadline is its expected length plus this. */
const DEADLINE_SLACK_MS = 15_000;
const STALL_MS = 1000;
/** A simulator this busy (% of one core) is the bottleneck of every path. */
const SATURATED_PERCENT = 85;
const RESULTS = new URL('../results/', import.meta.url);

const log = (line: string) => console.error(line);

function numberFromEnvironment(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (name.endsWith('_TPS') && value === 0)) {
    throw new TypeError(`${name} must be a number ≥ 0 (> 0 for a rate), not ${raw}`);
  }
  return value;
}

function positiveInteger(name: string, fallback: number): number {
  const value = numberFromEnvironment(name, fallback);
  if (!Number.isInteger(value) || value < 1)
    throw new TypeError(`${name} must be a positive integer, not ${value}`);
  return value;
}

/** N values from a variable: positive integers separated by commas; `none` runs no N. */
function nValues(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (raw.trim() === 'none') return [];
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) {
    throw new TypeError(`${name} must be positive integers separated by commas (or none), not ${raw}`);
  }
  return values;
}

/** Each stream holds a socket in the load generator and two in a gateway (client, upstream). */
function openFilesNote(maxN: number): string {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const [, soft = '?', hard = '?'] = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits) ?? [];
  const needed = 2 * maxN + 200;
  const enough = soft === 'unlimited' || Number(soft) >= needed;
  return enough
    ? `open files: ulimit -n ${soft} (hard ${hard}), enough for N = ${maxN} (a gateway holds 2 per stream).`
    : `open files: ulimit -n ${soft} (hard ${hard}) is below the ${needed} that N = ${maxN} needs (2 per stream in a ` +
        `gateway): expect EMFILE errors. Raise it in the shell first (ulimit -n ${needed}; the hard limit caps it).`;
}

/** The upstream must send exactly 64 deltas in both formats before anything is timed. */
async function checkUpstream(load: LoadGenerator, upstream: Upstream, phase: Phase): Promise<string> {
  const checks = [anthropicRequest(upstream.url), openaiRequest(upstream.url)];
  const lines: string[] = [];
  for (const request of checks) {
    const result = await load.run({
      request,
      concurrency: 1,
      expectedDeltas: EXPECTED_DELTAS,
      stallMs: Math.max(STALL_MS, 5 * gapMs(phase)),
    });
    if (result.deltas !== EXPECTED_DELTAS || result.errors > 0 || result.stalled > 0) {
      throw new Error(
        `the upstream sent ${result.deltas} ${request.format} deltas, not ${EXPECTED_DELTAS}: ${result.errorSamples.join('; ')}`,
      );
    }
    lines.push(`${request.format} ${result.deltas} deltas, gap p50 ${result.gap.p50.toFixed(1)} ms`);
  }
  return `${phase.name} phase upstream: sluice simulate at ${upstream.url}, a delta every ${gapMs(phase)} ms, "${PROMPT}" with max_tokens ${EXPECTED_DELTAS}: ${lines.join(', ')}.`;
}

interface Hosts {
  load: LoadGenerator;
  upstream: Upstream;
  phase: Phase;
}

async function measure({ load, upstream, phase }: Hosts, path: StartedPath, n: number): Promise<Row> {
  const streamsPerSlot = Math.max(MIN_STREAMS_PER_SLOT, Math.ceil(MIN_SAMPLES / n));
  const options = (concurrency: number, streams: number): LoadOptions => ({
    request: path.request,
    concurrency,
    streamsPerSlot: streams,
    rampMs: rampMs(phase),
    expectedDeltas: EXPECTED_DELTAS,
    stallMs: STALL_MS,
    deadlineMs: rampMs(phase) + streams * streamMs(phase) + DEADLINE_SLACK_MS,
  });
  const idle = totalRssBytes(path.pids);
  // The peak covers the warm-up too: it is the same load.
  const sampler = new PeakSampler(path.pids);
  // Warm-up at the same N: JIT-compiled code and open keep-alive connections on every hop, so
  // the measured run times the gateway, not TCP handshakes queued on a listen backlog.
  const warm = await load.run(options(Math.max(n, MIN_WARMUP_STREAMS), 1));
  const watched = [...path.pids, upstream.process.pid, load.process.pid];
  const cpuBefore = watched.map((pid) => totalCpuMs([pid]));
  const result = await load.run({ ...options(n, streamsPerSlot), closeIdleAfter: true });
  const cpu = watched.map((pid, i) => totalCpuMs([pid]) - cpuBefore[i]!);
  const gatewayCpu = cpu.slice(0, path.pids.length).reduce((sum, ms) => sum + ms, 0);
  const percentOfCore = (ms: number) => (ms / result.wallMs) * 100;
  const peak = sampler.stop();
  await sleep(1000);
  return {
    n,
    gapMs: gapMs(phase),
    path: path.name,
    format: path.request.format,
    floor: path.pids.length === 0,
    streamsPerSlot,
    load: result,
    warmup: { errors: warm.errors, stalled: warm.stalled },
    gateway:
      path.pids.length === 0
        ? undefined
        : {
            cpuMsPerStream: gatewayCpu / result.streams,
            rss: { idle, peak, after: totalRssBytes(path.pids) },
          },
    cpuPercent: {
      gateway: percentOfCore(gatewayCpu),
      upstream: percentOfCore(cpu.at(-2)!),
      loadGenerator: percentOfCore(cpu.at(-1)!),
    },
  };
}

function progress(row: Row, seconds: number): string {
  const { load } = row;
  const errors = load.errorSamples.length > 0 ? ` (${load.errorSamples[0]})` : '';
  const cpu = row.cpuPercent;
  return (
    `  N=${row.n} ${row.path}: TTFT p99 ${load.ttft.p99.toFixed(2)} ms, gap p99 ${load.gap.p99.toFixed(2)} ms, ` +
    `${load.errors} errors${errors}, ${load.stalled} stalled, ${load.streams} streams in ${seconds.toFixed(1)} s; ` +
    `CPU % of a core: gateway ${cpu.gateway.toFixed(0)}, simulator ${cpu.upstream.toFixed(0)}, ` +
    `load generator ${cpu.loadGenerator.toFixed(0)}`
  );
}

function chart(rows: Row[], skipped: string[]): string {
  const byPath = new Map<string, Series>();
  for (const row of rows) {
    const added = derive(rows, row).addedTtftP99;
    if (row.floor || added === undefined) continue;
    const series = byPath.get(row.path) ?? { path: row.path, points: [] };
    const floor = floorOf(rows, row);
    const failed = (r: Row | undefined) => r !== undefined && r.load.stalled + r.load.errors > 0;
    series.points.push({ n: row.n, addedMs: added, stalled: failed(row) || failed(floor) });
    byPath.set(row.path, series);
  }
  const saturated = rows.filter((row) => row.floor && row.cpuPercent.upstream >= SATURATED_PERCENT);
  return renderChart([...byPath.values()], {
    title: 'Added p99 time to first token, per gateway',
    subtitle: `Upstream: sluice simulate, ${EXPECTED_DELTAS} deltas ${PHASES.map((phase) => `${gapMs(phase)} ms apart at N ${phase.ns.join('/')}`).join(', ')}.`,
    footnotes: [
      `N streams held at once; ${cpus().length} cores for everything (gateway, simulator, load generator).`,
      ...skipped.map((reason) => `not shown: ${reason}`),
      'Hollow points: at or below 0.01 ms (within the noise of the direct path); ×: streams stalled or failed.',
      'Source: npm run bench:gateway (bench/results/gateway.json).',
    ],
    // The relay's goals are ratios to node-pipe (printed under the table), not lines on this chart.
    goals: [],
    saturatedFrom: saturated.length > 0 ? Math.min(...saturated.map((row) => row.n)) : undefined,
  });
}

function environment(): Record<string, string | number> {
  return {
    ...machine(),
    memoryGiB: Math.round(
      Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1]) / 2 ** 20,
    ),
  };
}

const loadAverage = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

interface Run {
  rows: Row[];
  notes: string[];
  skipped: string[];
  /** Path name → the N it stalled or failed at, per phase. */
  stopped: { phase: Phase; path: string; n: number }[];
}

/** A line kept under the table (once: both phases start the same paths) and shown as progress. */
function addNote(run: Run, line: string): void {
  if (!run.notes.includes(line)) run.notes.push(line);
  log(line);
}

/** Starts the phase's upstream and every path in front of it, runs its N values, stops them all. */
async function runPhase(phase: Phase, load: LoadGenerator, run: Run): Promise<void> {
  const note = (line: string) => addNote(run, line);
  const upstream = await startUpstream(phase.pacing);
  try {
    note(await checkUpstream(load, upstream, phase));
    const started: StartedPath[] = [];
    for (const definition of selectedPaths()) {
      try {
        const path = await definition.start({ upstream, started, log, note });
        if ('skip' in path) {
          if (path.skip !== '' && !run.skipped.includes(path.skip)) {
            run.skipped.push(path.skip);
            log(`skipped: ${path.skip}`);
          }
        } else {
          started.push(path);
        }
      } catch (error) {
        const reason = `${definition.name}: could not start: ${String(error).split('\n')[0]}`;
        if (!run.skipped.includes(reason)) run.skipped.push(reason);
        note(reason);
      }
    }
    const stopped = new Set<string>();
    try {
      for (const n of phase.ns) {
        for (const path of started) {
          if (stopped.has(path.name)) continue;
          const began = performance.now();
          const row = await measure({ load, upstream, phase }, path, n);
          run.rows.push(row);
          log(progress(row, (performance.now() - began) / 1000));
          if (row.load.stalled > 0 || row.load.errors > 0) {
            stopped.add(path.name);
            run.stopped.push({ phase, path: path.name, n });
          }
        }
      }
    } finally {
      await Promise.all(started.map((path) => path.stop()));
    }
  } finally {
    await upstream.process.stop();
  }
}

async function main(): Promise<void> {
  const ns = PHASES.flatMap((phase) => phase.ns);
  const run: Run = { rows: [], notes: [], skipped: [], stopped: [] };
  const loadAtStart = loadAverage();
  addNote(run, openFilesNote(Math.max(...ns)));

  const load = await startLoadGenerator();
  for (const phase of PHASES) await runPhase(phase, load, run);
  const { rows, notes, skipped } = run;
  const note = (line: string) => addNote(run, line);
  const saturated = rows.filter((row) => row.floor && row.cpuPercent.upstream >= SATURATED_PERCENT);
  if (saturated.length > 0) {
    note(
      `N = ${[...new Set(saturated.map((row) => row.n))].join(', ')}: the simulator used ` +
        `${saturated.map((row) => row.cpuPercent.upstream.toFixed(0)).join('/')}% of a core (one Node process ` +
        'tops out near 100%): its own queueing sets TTFT and gaps there, on every path, so Δ is mostly noise.',
    );
  }
  for (const { phase, path, n } of run.stopped) {
    if (n !== phase.ns.at(-1))
      note(`${path} stalled or failed at N = ${n}: not run at higher N in its phase.`);
  }
  const loadAtEnd = loadAverage();

  console.log(table(rows));
  console.log();
  console.log(
    'TTFT: request sent → first content delta arrived; gap: between consecutive content deltas (paced: how far ' +
      'apart the upstream sends them); Δ: minus the direct path in the same wire format (direct-openai for Portkey) ' +
      'at the same N; times in ms, p50/p99 over every stream. N streams held: they start evenly over one ' +
      `stream's length and each runs ${MIN_STREAMS_PER_SLOT} streams back to back (N = 1: ${MIN_SAMPLES}). Stalled: no frame for over ${STALL_MS / 1000} s, or fewer ` +
      `than ${EXPECTED_DELTAS} deltas. CPU/stream: the gateway's CPU during the run ÷ streams; RSS: before the run, ` +
      'highest during it (every 100 ms), 1 s after; mem/stream: (peak − idle) ÷ N. Each N is run once as a ' +
      'warm-up first.',
  );
  for (const line of notes) console.log(line);
  for (const reason of skipped)
    if (!notes.some((line) => line.startsWith(reason))) console.log(`skipped: ${reason}`);
  const env = environment();
  const goals = goalLines(rows);
  for (const line of goals) console.log(line);
  console.log(
    `Node ${env.node} ${env.platform}, ${env.cpu}, ${env.memoryGiB} GiB; load average ${loadAtStart} at the start, ` +
      `${loadAtEnd} at the end.`,
  );

  mkdirSync(RESULTS, { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    command: 'npm run bench:gateway',
    environment: { ...env, loadAverageStart: loadAtStart, loadAverageEnd: loadAtEnd },
    config: {
      phases: PHASES.map((phase) => ({ ...phase, rampMs: rampMs(phase) })),
      prompt: PROMPT,
      expectedDeltas: EXPECTED_DELTAS,
      minStreamsPerSlot: MIN_STREAMS_PER_SLOT,
      minSamples: MIN_SAMPLES,
      stallMs: STALL_MS,
      deadlineSlackMs: DEADLINE_SLACK_MS,
    },
    notes,
    skipped,
    goals,
    rows: rows.map((row) => ({ ...row, derived: derive(rows, row) })),
  };
  const jsonFile = new URL('gateway.json', RESULTS);
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const svgFile = new URL('gateway.svg', RESULTS);
  writeFileSync(svgFile, chart(rows, skipped));
  log(`results written to ${jsonFile.pathname} and ${svgFile.pathname}`);
}

/** BENCH_REDRAW=1: the chart drawn again from the last run's results, without running anything. */
function redraw(): void {
  const jsonFile = new URL('gateway.json', RESULTS);
  const results = JSON.parse(readFileSync(jsonFile, 'utf8')) as { rows: Row[]; skipped: string[] };
  const svgFile = new URL('gateway.svg', RESULTS);
  writeFileSync(svgFile, chart(results.rows, results.skipped));
  log(`chart drawn from ${jsonFile.pathname} to ${svgFile.pathname}`);
}

let exitCode = 0;
try {
  if (process.env.BENCH_REDRAW === '1') redraw();
  else await main();
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await cleanupAll();
}
// Keep-alive sockets and the children's pipes must not hold the process open.
process.exit(exitCode);

/**
 * `npm run bench:gateway`: what a streaming gateway adds. The upstream is `sluice simulate`
 * streaming 64 deltas 20 ms apart; a load generator opens N concurrent streams directly (the
 * floor), through nginx (a proxy that understands nothing), through Portkey, and through the
 * Sluice gateway, and measures TTFT, the gaps between frames, errors, stalls, and the gateway's
 * CPU and memory. Simulator, load generator and each gateway are separate processes.
 *
 * BENCH_N=1,100,1000 sets the N values (default 1,100,1000,2000,4000,5000; a path that stalls
 * or errors is not run at higher N). Prints the table, writes bench/results/gateway.json and
 * bench/results/gateway.svg.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderChart, type Series } from './chart.ts';
import { cleanupAll } from './children.ts';
import type { LoadOptions } from './load.ts';
import { PATHS, type StartedPath } from './paths.ts';
import { PeakSampler, totalCpuMs, totalRssBytes } from './procstat.ts';
import { derive, floorOf, goalsLine, type Row, table } from './report.ts';
import { anthropicRequest, EXPECTED_DELTAS, openaiRequest, PROMPT } from './requests.ts';
import { type LoadGenerator, startLoadGenerator, startUpstream, type Upstream } from './workers.ts';

const DEFAULT_N = [1, 100, 1000, 2000, 4000, 5000];
/**
 * A delta every 20 ms from the first byte on. BENCH_TPS lowers the rate: 5000 streams at 50
 * deltas/s are 250,000 frames a second on every hop, more than two cores can produce, carry and
 * consume at once.
 */
const PACING = { ttftMs: 0, tokensPerSecond: numberFromEnvironment('BENCH_TPS', 50) };
const GAP_MS = 1000 / PACING.tokensPerSecond;
/** One stream's length: 64 deltas 20 ms apart. */
const STREAM_MS = (EXPECTED_DELTAS * 1000) / PACING.tokensPerSecond;
/**
 * Streams start evenly over one stream's length, then each slot runs its next stream at once:
 * N streams held open, arriving at N per 1.28 s (BENCH_RAMP_MS=0: all N at once, a burst).
 */
const RAMP_MS = numberFromEnvironment('BENCH_RAMP_MS', STREAM_MS);
/** Streams each slot runs; at N = 1 it takes 20 streams, one after the other, to have percentiles. */
const MIN_STREAMS_PER_SLOT = 2;
const MIN_SAMPLES = 20;
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
  if (!Number.isFinite(value) || value < 0 || (name === 'BENCH_TPS' && value === 0)) {
    throw new TypeError(`${name} must be a number ≥ 0 (BENCH_TPS > 0), not ${raw}`);
  }
  return value;
}

function nValues(): number[] {
  const raw = process.env.BENCH_N;
  if (raw === undefined || raw.trim() === '') return DEFAULT_N;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) {
    throw new TypeError(`BENCH_N must be positive integers separated by commas, not ${raw}`);
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
async function checkUpstream(load: LoadGenerator, upstream: Upstream): Promise<string> {
  const checks = [anthropicRequest(upstream.url), openaiRequest(upstream.url)];
  const lines: string[] = [];
  for (const request of checks) {
    const result = await load.run({ request, concurrency: 1, expectedDeltas: EXPECTED_DELTAS });
    if (result.deltas !== EXPECTED_DELTAS || result.errors > 0 || result.stalled > 0) {
      throw new Error(
        `the upstream sent ${result.deltas} ${request.format} deltas, not ${EXPECTED_DELTAS}: ${result.errorSamples.join('; ')}`,
      );
    }
    lines.push(`${request.format} ${result.deltas} deltas, gap p50 ${result.gap.p50.toFixed(1)} ms`);
  }
  return `upstream: sluice simulate at ${upstream.url}, "${PROMPT}" with max_tokens ${EXPECTED_DELTAS}: ${lines.join(', ')}.`;
}

interface Hosts {
  load: LoadGenerator;
  upstream: Upstream;
}

async function measure({ load, upstream }: Hosts, path: StartedPath, n: number): Promise<Row> {
  const streamsPerSlot = Math.max(MIN_STREAMS_PER_SLOT, Math.ceil(MIN_SAMPLES / n));
  const options = (concurrency: number, streams: number): LoadOptions => ({
    request: path.request,
    concurrency,
    streamsPerSlot: streams,
    rampMs: RAMP_MS,
    expectedDeltas: EXPECTED_DELTAS,
    stallMs: STALL_MS,
    deadlineMs: RAMP_MS + streams * STREAM_MS + DEADLINE_SLACK_MS,
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
    subtitle:
      `Upstream: sluice simulate, ${EXPECTED_DELTAS} deltas ${GAP_MS} ms apart; N streams held; ` +
      `${cpus().length} cores for everything.`,
    footnotes: [
      ...skipped.map((reason) => `not shown: ${reason}`),
      'Hollow points: at or below 0.01 ms (within the noise of the direct path); ×: streams stalled or failed.',
      'Source: npm run bench:gateway (bench/results/gateway.json).',
    ],
    goals: [
      { n: 1, ms: 1, label: 'Sluice goal' },
      { n: 100, ms: 2, label: 'Sluice goal' },
    ],
    saturatedFrom: saturated.length > 0 ? Math.min(...saturated.map((row) => row.n)) : undefined,
  });
}

function environment(): Record<string, string | number> {
  const processors = cpus();
  return {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpu: `${processors.length} × ${processors[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(
      Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1]) / 2 ** 20,
    ),
  };
}

const loadAverage = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const ns = nValues();
  const notes: string[] = [];
  const skipped: string[] = [];
  const note = (line: string) => {
    notes.push(line);
    log(line);
  };
  const loadAtStart = loadAverage();
  note(openFilesNote(Math.max(...ns)));

  const upstream = await startUpstream(PACING);
  const load = await startLoadGenerator();
  note(await checkUpstream(load, upstream));

  const started: StartedPath[] = [];
  for (const definition of PATHS) {
    try {
      const path = await definition.start({ upstream, started, log, note });
      if ('skip' in path) {
        if (path.skip !== '') {
          skipped.push(path.skip);
          log(`skipped: ${path.skip}`);
        }
      } else {
        started.push(path);
      }
    } catch (error) {
      const reason = `${definition.name}: could not start: ${String(error).split('\n')[0]}`;
      skipped.push(reason);
      note(reason);
    }
  }

  const rows: Row[] = [];
  const stopped = new Map<string, number>();
  try {
    for (const n of ns) {
      for (const path of started) {
        if (stopped.has(path.name)) continue;
        const began = performance.now();
        const row = await measure({ load, upstream }, path, n);
        rows.push(row);
        log(progress(row, (performance.now() - began) / 1000));
        if (row.load.stalled > 0 || row.load.errors > 0) stopped.set(path.name, n);
      }
    }
  } finally {
    await Promise.all(started.map((path) => path.stop()));
  }
  const saturated = rows.filter((row) => row.floor && row.cpuPercent.upstream >= SATURATED_PERCENT);
  if (saturated.length > 0) {
    note(
      `N = ${[...new Set(saturated.map((row) => row.n))].join(', ')}: the simulator used ` +
        `${saturated.map((row) => row.cpuPercent.upstream.toFixed(0)).join('/')}% of a core (one Node process ` +
        'tops out near 100%): its own queueing sets TTFT and gaps there, on every path, so Δ is mostly noise.',
    );
  }
  for (const [path, n] of stopped) {
    if (n !== ns.at(-1)) note(`${path} stalled or failed at N = ${n}: not run at higher N.`);
  }
  const loadAtEnd = loadAverage();

  console.log(table(rows));
  console.log();
  console.log(
    'TTFT: request sent → first content delta arrived; gap: between consecutive content deltas (the upstream ' +
      `paces them ${GAP_MS} ms apart); Δ: minus the direct path in the same wire format (direct-openai for Portkey) ` +
      'at the same N; times in ms, p50/p99 over every stream. N streams held: they start evenly over ' +
      `${RAMP_MS} ms and each runs ${MIN_STREAMS_PER_SLOT} streams back to back (N = 1: ${MIN_SAMPLES}). Stalled: no frame for over ${STALL_MS / 1000} s, or fewer ` +
      `than ${EXPECTED_DELTAS} deltas. CPU/stream: the gateway's CPU during the run ÷ streams; RSS: before the run, ` +
      'highest during it (every 100 ms), 1 s after; mem/stream: (peak − idle) ÷ N. Each N is run once as a ' +
      'warm-up first.',
  );
  for (const line of notes) console.log(line);
  for (const reason of skipped)
    if (!notes.some((line) => line.startsWith(reason))) console.log(`skipped: ${reason}`);
  const env = environment();
  console.log(goalsLine(rows));
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
      n: ns,
      pacing: PACING,
      prompt: PROMPT,
      expectedDeltas: EXPECTED_DELTAS,
      rampMs: RAMP_MS,
      minStreamsPerSlot: MIN_STREAMS_PER_SLOT,
      minSamples: MIN_SAMPLES,
      stallMs: STALL_MS,
      deadlineSlackMs: DEADLINE_SLACK_MS,
    },
    notes,
    skipped,
    goals: goalsLine(rows),
    rows: rows.map((row) => ({ ...row, derived: derive(rows, row) })),
  };
  const jsonFile = new URL('gateway.json', RESULTS);
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const svgFile = new URL('gateway.svg', RESULTS);
  writeFileSync(svgFile, chart(rows, skipped));
  log(`results written to ${jsonFile.pathname} and ${svgFile.pathname}`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await cleanupAll();
}
// Keep-alive sockets and the children's pipes must not hold the process open.
process.exit(exitCode);

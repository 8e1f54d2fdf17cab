/**
 * What the bench's own harness costs: the `direct` path (load generator straight at the
 * simulator, no gateway) at N held streams, printing the CPU per stream of the simulator
 * process and of the load generator process. Neither is under test, but both share the
 * machine with every gateway: the cheaper they are, the more of the machine a gateway has.
 *
 *   node bench/gateway/harness-probe.ts [N=1000] [tokensPerSecond=5] [format=anthropic|openai]
 *
 * Streams start evenly over one stream's length (as the bench's held phase does), one per slot.
 */

import { readFileSync } from 'node:fs';
import { cleanupAll } from './children.ts';
import { cpuMs } from './procstat.ts';
import { anthropicRequest, EXPECTED_DELTAS, openaiRequest } from './requests.ts';
import { startLoadGenerator, startUpstream } from './workers.ts';

const [rawN = '1000', rawTps = '5', format = 'anthropic'] = process.argv.slice(2);
const n = Number(rawN);
const tokensPerSecond = Number(rawTps);
const streamMs = (EXPECTED_DELTAS * 1000) / tokensPerSecond;

try {
  const upstream = await startUpstream({ ttftMs: 0, tokensPerSecond });
  const load = await startLoadGenerator();
  const request = format === 'openai' ? openaiRequest(upstream.url) : anthropicRequest(upstream.url);
  const pids = [upstream.process.pid, load.process.pid];
  const before = pids.map((pid) => cpuMs(pid) ?? 0);
  const ticksBefore = pids.map(userAndSystemTicks);
  const started = performance.now();
  const result = await load.run({
    request,
    concurrency: n,
    streamsPerSlot: 1,
    rampMs: streamMs,
    expectedDeltas: EXPECTED_DELTAS,
    deadlineMs: 2 * streamMs + 15_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const perStream = (ms: number) => (ms / result.streams).toFixed(3);
  const [simulator, generator] = pids.map((pid, i) => (cpuMs(pid) ?? 0) - before[i]!);
  // User time is the process's own code (JS, V8, libuv); system time is mostly the kernel's
  // TCP work for each write and read, which no change to the code can make much cheaper.
  const [simulatorSplit, generatorSplit] = pids.map((pid, i) => {
    const [user, system] = userAndSystemTicks(pid).map((ticks, j) => ticks - ticksBefore[i]![j]!);
    return `user ${perStream(user! * 10)} + system ${perStream(system! * 10)}`;
  });
  const percent = (ms: number) => ((ms / 10 / seconds) | 0).toString();
  console.log(
    `direct ${format} N=${n} ${tokensPerSecond} tok/s: ${result.streams} streams, ${result.deltas} deltas, ` +
      `${result.errors} errors, ${result.stalled} stalled, TTFT p99 ${result.ttft.p99.toFixed(1)} ms, ` +
      `gap p50/p99/max ${result.gap.p50.toFixed(1)}/${result.gap.p99.toFixed(1)}/${result.gap.max.toFixed(1)} ms, ` +
      `${seconds.toFixed(1)} s`,
  );
  console.log(
    `CPU ms per stream: simulator ${perStream(simulator!)} (${percent(simulator!)}% of a core), ` +
      `load generator ${perStream(generator!)} (${percent(generator!)}% of a core)`,
  );
  console.log(`  from clock ticks: simulator ${simulatorSplit}, load generator ${generatorSplit}`);
  // Both children exit on their own when the channel closes (writing a --cpu-prof profile if on).
  for (const child of [upstream.process, load.process]) child.child.disconnect();
  await Promise.all([upstream.process.exited, load.process.exited]);
} finally {
  await cleanupAll();
}

/** utime and stime of `pid` in clock ticks (10 ms), from /proc/<pid>/stat. */
function userAndSystemTicks(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[14 - 3]), Number(fields[15 - 3])];
}
process.exit(0);

/**
 * `node bench/gateway/thread-probe.ts [N] [streamsPerSlot] [tps]`: one Sluice gateway (memory
 * log) in front of the paced simulator under N held streams, then the gateway's CPU per stream
 * split by thread (the main thread, V8's GC helpers, libuv's pool), from /proc/<pid>/task.
 * THREAD_PROBE_ENV adds environment (KEY=VALUE,…) to the gateway, THREAD_PROBE_FLAGS Node flags.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cleanupAll } from './children.ts';
import { startLoneGateway } from './lone-gateway.ts';
import { anthropicRequest, EXPECTED_DELTAS } from './requests.ts';
import { startLoadGenerator } from './workers.ts';

const n = Number(process.argv[2] ?? 1000);
const perSlot = Number(process.argv[3] ?? 2);
const tps = Number(process.argv[4] ?? 5);
const extraEnv = Object.fromEntries(
  (process.env.THREAD_PROBE_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const { server } = await startLoneGateway({
  tokensPerSecond: tps,
  nodeArgs: process.env.THREAD_PROBE_FLAGS?.split(' ').filter(Boolean),
  env: extraEnv,
});
const pid = server.process.pid!;
console.log(`gateway pid ${pid}`);
const threads = () => {
  const byName = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const key = task === String(pid) ? 'main' : name;
    byName.set(key, (byName.get(key) ?? 0) + ticks);
  }
  return byName;
};
const load = await startLoadGenerator();
const request = anthropicRequest(server.url, {}, 'upstream:default');
const streamMs = (EXPECTED_DELTAS * 1000) / tps;
// As the gateway bench runs a held phase: a warm-up at the same N, streams started evenly over
// one stream's length, and a deadline that leaves every slot time to finish.
const held = (slots: number) => ({
  request,
  concurrency: n,
  streamsPerSlot: slots,
  rampMs: streamMs,
  deadlineMs: streamMs * (slots + 1) + 10_000,
  expectedDeltas: EXPECTED_DELTAS,
});
await load.run(held(1));
const before = threads();
const result = await load.run(held(perSlot));
const after = threads();
const streams = n * perSlot;
let total = 0;
const lines: string[] = [];
for (const [name, ticks] of after) {
  const spent = ((ticks - (before.get(name) ?? 0)) * 10) / streams;
  total += spent;
  if (spent > 0) lines.push(`  ${name.padEnd(18)} ${spent.toFixed(3)} ms/stream`);
}
console.log(
  `streams ${streams}, errors ${result.errors}, stalled ${result.stalled}; gateway CPU ${total.toFixed(2)} ms/stream`,
);
console.log(lines.join('\n'));
await server.process.stop();

await cleanupAll();
process.exit(0);

/**
 * `node bench/gateway/profile.ts [N] [streamsPerSlot] [tps]`: one Sluice gateway in front of the
 * paced simulator, under N concurrent streams, with V8's CPU profiler on; prints the functions
 * with the most self time. For finding where the relay's CPU goes, not for figures.
 * PROFILE_INTERVAL_US sets the sampling interval, PROFILE_FULL=1 turns the pass-through off,
 * PROFILE_STORE picks the stream log (a Redis URL), PROFILE_NODE_FLAGS adds Node/V8 flags to
 * the gateway alone (`--single-threaded-gc`, `--max-semi-space-size=64`).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, makeTempDir } from './children.ts';
import { startLoneGateway } from './lone-gateway.ts';
import { anthropicRequest, EXPECTED_DELTAS } from './requests.ts';
import { startLoadGenerator } from './workers.ts';

const n = Number(process.argv[2] ?? 100);
const perSlot = Number(process.argv[3] ?? 4);
const tps = Number(process.argv[4] ?? 50);
const passThrough = process.env.PROFILE_FULL !== '1';
const store = process.env.PROFILE_STORE ?? 'memory';
// Where the gateway writes its profile.
const dir = makeTempDir('sluice-profile-');
const { server } = await startLoneGateway({
  tokensPerSecond: tps,
  server: { passThrough },
  store,
  nodeArgs: [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US ?? 1000}`,
    // Node or V8 flags to try on the gateway alone (`--single-threaded-gc`, a semi-space size).
    ...(process.env.PROFILE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
  ],
});
const load = await startLoadGenerator();
const request = anthropicRequest(server.url, {}, 'upstream:default');
await load.run({ request, concurrency: 20, streamsPerSlot: 2, rampMs: 0, expectedDeltas: EXPECTED_DELTAS });
const cpuBefore = execFileSync('cat', [`/proc/${server.process.pid}/stat`], { encoding: 'utf8' }).split(' ');
const result = await load.run({
  request,
  concurrency: n,
  streamsPerSlot: perSlot,
  rampMs: (EXPECTED_DELTAS * 1000) / tps,
  expectedDeltas: EXPECTED_DELTAS,
});
const cpuAfter = execFileSync('cat', [`/proc/${server.process.pid}/stat`], { encoding: 'utf8' }).split(' ');
const ticks = (s: string[]) => Number(s[13]) + Number(s[14]);
const streams = n * perSlot;
console.log(
  `streams ${streams}, errors ${result.errors}, stalled ${result.stalled}; gateway CPU ${(((ticks(cpuAfter) - ticks(cpuBefore)) * 10) / streams).toFixed(2)} ms/stream (user+sys, ticks)`,
);
process.kill(server.process.pid!, 'SIGINT');
await server.process.exited;
const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount: number;
  }[];
  samples: number[];
  timeDeltas: number[];
};
const self = new Map<string, number>();
const total = profile.samples.length;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
for (const id of profile.samples) {
  const frame = byId.get(id)!.callFrame;
  const where = frame.url.replace(/^.*\/(src|node_modules)\//, '$1/');
  const key = `${frame.functionName || '(anon)'} ${where}:${frame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + 1);
}
const byFile = new Map<string, number>();
for (const [key, count] of self) {
  const file = key.split(' ')[1]!.replace(/:\d+$/, '');
  byFile.set(file, (byFile.get(file) ?? 0) + count);
}
const top = (map: Map<string, number>, k: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([key, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`);
console.log(`\nsamples ${total}\n--- self time by function ---\n${top(self, 45).join('\n')}`);
console.log(`\n--- self time by file ---\n${top(byFile, 30).join('\n')}`);
writeFileSync('/tmp/b/prof/last.cpuprofile', JSON.stringify(profile));
await cleanupAll();
process.exit(0);

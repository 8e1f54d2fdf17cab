/**
 * `node bench/gateway/ttft-probe.ts [streams]`: TTFT at N = 1, one stream after another, through
 * node-pipe and Sluice variants side by side (interleaved), for finding where a single request's
 * latency goes. Not a benchmark of record: `npm run bench:gateway` is.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAll, makeTempDir, printed, startServerProcess } from './children.ts';
import { runLoad } from './load.ts';
import { anthropicRequest, EXPECTED_DELTAS } from './requests.ts';
import { startUpstream } from './workers.ts';

const streams = Number(process.argv[2] ?? 40);
const upstream = await startUpstream({ ttftMs: 0, tokensPerSecond: 200 });
const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const pipe = await startServerProcess('node-pipe', process.execPath, (port) => [
  fileURLToPath(new URL('./node-pipe.ts', import.meta.url)),
  String(port),
  upstream.url,
]);
const variants: Record<string, object> = JSON.parse(process.env.PROBE_VARIANTS ?? '{"sluice":{}}');
const targets: { name: string; url: string; model: string }[] = [
  { name: 'node-pipe', url: pipe.url, model: 'default' },
];
for (const [name, server] of Object.entries(variants)) {
  const dir = makeTempDir('sluice-probe-');
  const config = join(dir, 'sluice.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      providers: { upstream: { type: 'anthropic', baseURL: upstream.url, apiKeyEnv: 'BENCH_UPSTREAM_KEY' } },
      defaultModel: 'upstream:default',
      server,
      streams: { store: 'memory' },
    }),
  );
  const started = await startServerProcess(
    name,
    process.execPath,
    (port) => [cli, 'serve', '--port', String(port), '--config', config],
    {
      env: { BENCH_UPSTREAM_KEY: 'sk-bench' },
    },
  );
  await printed(started.process, /listening on/);
  targets.push({ name, url: started.url, model: 'upstream:default' });
}
const ttfts = new Map<string, number[]>(targets.map((target) => [target.name, []]));
for (let round = 0; round < streams + 5; round++) {
  for (const target of targets) {
    const result = await runLoad({
      request: anthropicRequest(target.url, {}, target.model),
      concurrency: 1,
      expectedDeltas: EXPECTED_DELTAS,
    });
    if (round >= 5) ttfts.get(target.name)!.push(result.ttft.p50);
  }
}
const pct = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
for (const [name, values] of ttfts) {
  console.log(
    `${name.padEnd(16)} TTFT p50 ${pct(values, 50).toFixed(2)} ms  p90 ${pct(values, 90).toFixed(2)} ms  (${values.length})`,
  );
}
await cleanupAll();
process.exit(0);

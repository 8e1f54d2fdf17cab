/**
 * One `sluice serve` in front of a paced simulator, for the probes that study a single gateway
 * under load (`profile.ts`, `thread-probe.ts`): the config a user would write, Node flags
 * before the CLI (a profiler, GC flags), and extra environment for the gateway alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, printed, startServerProcess } from './children.ts';
import { startUpstream } from './workers.ts';

export interface LoneGatewayOptions {
  /** Deltas a second from the simulator. */
  tokensPerSecond: number;
  /** The config's `server` section (`passThrough`, …); the log level is `warn`. */
  server?: Record<string, unknown>;
  /** `memory`, or a Redis URL for the stream log (under a key prefix of this process). */
  store?: string;
  /** Node or V8 flags, before the CLI. */
  nodeArgs?: readonly string[];
  env?: Record<string, string>;
}

export async function startLoneGateway(options: LoneGatewayOptions) {
  const { store = 'memory' } = options;
  const dir = makeTempDir('sluice-lone-gateway-');
  const config = join(dir, 'sluice.config.json');
  const upstream = await startUpstream({ ttftMs: 0, tokensPerSecond: options.tokensPerSecond });
  writeFileSync(
    config,
    JSON.stringify({
      providers: { upstream: { type: 'anthropic', baseURL: upstream.url, apiKeyEnv: 'BENCH_UPSTREAM_KEY' } },
      defaultModel: 'upstream:default',
      server: { ...options.server, logLevel: 'warn' },
      streams:
        store === 'memory' ? { store: 'memory' } : { store, keyPrefix: `sluice-probe:${process.pid}:` },
    }),
  );
  const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const server = await startServerProcess(
    'sluice serve',
    process.execPath,
    (port) => [...(options.nodeArgs ?? []), cli, 'serve', '--port', String(port), '--config', config],
    { env: { BENCH_UPSTREAM_KEY: 'sk-bench', ...options.env } },
  );
  await printed(server.process, /listening on/);
  return { server };
}

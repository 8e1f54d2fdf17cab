/**
 * The paths a stream can take from the load generator to the upstream simulator. Each one
 * starts whatever it needs and says where to send the request; `pids` are the processes whose
 * CPU and memory are the path's cost. Adding a gateway is adding an entry to PATHS.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, printed, startServerProcess } from './children.ts';
import type { RequestSpec } from './load.ts';
import { ensureNginx, startNginx } from './nginx.ts';
import { findPortkey, portkeyRequest, probePortkey, startPortkey } from './portkey.ts';
import { childPids } from './procstat.ts';
import { signedMs } from './report.ts';
import { anthropicRequest, openaiRequest } from './requests.ts';
import type { Upstream } from './workers.ts';

export interface StartedPath {
  name: string;
  request: RequestSpec;
  /** The gateway's processes; none for the direct path. */
  pids: number[];
  stop(): Promise<void>;
}

export type PathStart = StartedPath | { skip: string };

export interface PathContext {
  upstream: Upstream;
  /** The paths started before this one. */
  started: readonly StartedPath[];
  /** Progress lines, on stderr. */
  log(line: string): void;
  /** Lines printed under the table and kept in the results (what was skipped and why). */
  note(line: string): void;
}

export interface PathDefinition {
  name: string;
  start(context: PathContext): Promise<PathStart>;
}

const SLUICE_APP = new URL('../../src/server/app.ts', import.meta.url);
const SLUICE_CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const NODE_PIPE = fileURLToPath(new URL('./node-pipe.ts', import.meta.url));

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The Redis server's process id, so a path on the Redis stream log counts its CPU and memory too. */
async function redisPid(): Promise<number | undefined> {
  const { execFileSync } = await import('node:child_process');
  try {
    const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'server'], { encoding: 'utf8' });
    const pid = /process_id:(\d+)/.exec(info)?.[1];
    return pid === undefined ? undefined : Number(pid);
  } catch {
    return undefined;
  }
}

/**
 * `sluice serve` in front of the simulator's Anthropic route, configured as a user would; with
 * more than one worker, its cost is the primary's and every worker's. Every streamed answer
 * goes to the stream log (durable streams): in memory, or in Redis (`store: 'redis'`, which
 * `--workers` needs), whose server's CPU and memory then count as the path's too.
 */
function sluicePath(
  name: string,
  workers: number,
  store: 'memory' | 'redis' = 'memory',
  /** false: every stream through the full relay (decode, splice, re-encode), for comparison. */
  passThrough = true,
  /** The wire the load generator speaks to the gateway (the upstream is Anthropic's either way). */
  format: 'anthropic' | 'openai' = 'anthropic',
): PathDefinition {
  return {
    name,
    async start({ upstream, note }) {
      if (!existsSync(SLUICE_APP)) return { skip: `${name}: the Sluice gateway is not built yet` };
      const redis = store === 'redis' ? await redisPid() : undefined;
      if (store === 'redis' && redis === undefined)
        return { skip: `${name}: no Redis answers at ${REDIS_URL}` };
      const config = join(makeTempDir('sluice-bench-gateway-'), 'sluice.config.json');
      writeFileSync(
        config,
        JSON.stringify({
          // The gateway sends a key only from a named variable once baseURL points elsewhere.
          providers: {
            upstream: { type: 'anthropic', baseURL: upstream.url, apiKeyEnv: 'BENCH_UPSTREAM_KEY' },
          },
          defaultModel: 'upstream:default',
          server: { workers, passThrough },
          streams:
            store === 'redis'
              ? { store: REDIS_URL, keyPrefix: `sluice-bench:${process.pid}:${name}:` }
              : { store: 'memory' },
        }),
      );
      const server = await startServerProcess(
        `sluice serve (${workers} workers)`,
        process.execPath,
        (port) => [SLUICE_CLI, 'serve', '--port', String(port), '--config', config],
        { env: { BENCH_UPSTREAM_KEY: 'sk-bench' } },
      );
      // The port accepts once one worker listens; the line comes when all of them do.
      await printed(server.process, /listening on/);
      const pids = [
        server.process.pid,
        ...childPids(server.process.pid),
        ...(redis === undefined ? [] : [redis]),
      ];
      if (workers > 1) {
        note(
          `${name}: sluice serve --workers ${workers}; CPU and memory are the primary's and its workers'.`,
        );
      }
      if (!passThrough) {
        note(
          `${name}: server.passThrough false: every event decoded, spliced and encoded again (the full relay).`,
        );
      }
      if (redis !== undefined) {
        note(
          `${name}: the stream log in Redis (${REDIS_URL}); redis-server's CPU and memory count as the path's.`,
        );
      }
      return {
        name,
        request:
          format === 'openai'
            ? openaiRequest(server.url, {}, 'upstream:default')
            : anthropicRequest(server.url, {}, 'upstream:default'),
        pids,
        stop: () => server.process.stop(),
      };
    },
  };
}

export const PATHS: PathDefinition[] = [
  {
    // The floor: the load generator straight to the simulator's Anthropic route.
    name: 'direct',
    async start({ upstream }) {
      return { name: 'direct', request: anthropicRequest(upstream.url), pids: [], stop: async () => {} };
    },
  },
  {
    name: 'nginx',
    async start({ upstream, log, note }) {
      const found = ensureNginx(log);
      if ('skip' in found) return { skip: `nginx: ${found.skip}` };
      const nginx = await startNginx(upstream.port);
      note(
        `nginx ${found.version}: proxy_buffering off, HTTP/1.1 keep-alive upstream, worker_processes 1 ` +
          '(one worker, as each Node gateway is one process); CPU and memory are its worker’s.',
      );
      return {
        name: 'nginx',
        request: anthropicRequest(nginx.url),
        pids: [nginx.workerPid],
        stop: nginx.stop,
      };
    },
  },
  {
    // A bare node:http proxy: what any Node gateway pays here before it does anything useful.
    name: 'node-pipe',
    async start({ upstream, note }) {
      const server = await startServerProcess('node-pipe', process.execPath, (port) => [
        NODE_PIPE,
        String(port),
        upstream.url,
      ]);
      note(
        'node-pipe: a bare reverse proxy on node:http (bench/gateway/node-pipe.ts) that copies bytes and ' +
          'understands none of them; the floor for any gateway written for Node on this machine.',
      );
      return {
        name: 'node-pipe',
        request: anthropicRequest(server.url),
        pids: [server.process.pid],
        stop: () => server.process.stop(),
      };
    },
  },
  sluicePath('sluice', 1),
  sluicePath('sluice-full', 1, 'memory', false),
  sluicePath('sluice-redis', 1, 'redis'),
  // The OpenAI route: Chat Completions to the client, Anthropic's SSE from the upstream.
  sluicePath('sluice-openai', 1, 'memory', true, 'openai'),
  sluicePath('sluice-2w', 2, 'redis'),
  {
    // Portkey speaks OpenAI to the simulator's OpenAI route, and OpenAI to the load generator.
    name: 'portkey',
    async start({ upstream, log, note }) {
      const install = findPortkey();
      if ('skip' in install) return { skip: `Portkey: ${install.skip}` };
      const portkey = await startPortkey(install);
      log(`Portkey ${install.version} (@hono/node-server ${install.honoNodeServer}): probing…`);
      const probe = await probePortkey(portkey, upstream.url);
      const plain = probe.nonStreaming;
      const plainNote = plain.ok
        ? `non-streaming requests work (${plain.detail}: ${signedMs(plain.addedP50Ms)} ms p50, ` +
          `${signedMs(plain.addedP99Ms)} ms p99 over direct)`
        : `non-streaming requests fail too: ${plain.detail}`;
      if (!probe.streaming.ok) {
        await portkey.process.stop();
        note(
          `Portkey ${install.version}: streaming fails with ${probe.streaming.error}; compared without it.`,
        );
        note(
          `  ${plainNote}. The cause: @hono/node-server ${install.honoNodeServer} (above 1.14.1) hands Portkey the ` +
            'upstream fetch response’s immutable headers, which it then appends to. Pinning @hono/node-server to ' +
            '1.14.1 for Portkey (npm overrides) makes it stream, its code unchanged; BENCH_PORTKEY_DIR=<dir> ' +
            'measures such an install.',
        );
        return {
          skip: `portkey ${install.version}: streaming fails with ${probe.streaming.error.split(' (')[0]}`,
        };
      }
      note(
        `Portkey ${install.version} (@hono/node-server ${install.honoNodeServer}): ${plainNote}; ` +
          'streams through x-portkey-provider: openai and x-portkey-custom-host.',
      );
      return {
        name: 'portkey',
        request: portkeyRequest(portkey.url, upstream.url),
        pids: [portkey.process.pid],
        stop: () => portkey.process.stop(),
      };
    },
  },
  {
    // A floor for paths that stream OpenAI chunks: the simulator's OpenAI route does a little
    // more work per delta than its Anthropic one, which is no gateway's cost.
    name: 'direct-openai',
    async start({ upstream, started }) {
      if (!started.some((path) => path.request.format === 'openai' && path.pids.length > 0)) {
        return { skip: '' };
      }
      return { name: 'direct-openai', request: openaiRequest(upstream.url), pids: [], stop: async () => {} };
    },
  },
];

/**
 * The Portkey open-source gateway (`@portkey-ai/gateway`, a devDependency), run as its README
 * says for local use (its `bin`, `npx @portkey-ai/gateway`), in front of the simulator's OpenAI
 * route. Before it is measured, a probe checks that it answers, and that it streams: 1.15.2 as
 * npm installs it today does not (see `streamingFailure`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerProcess, startServerProcess } from './children.ts';
import { percentiles, type RequestSpec, runLoad } from './load.ts';
import { EXPECTED_DELTAS, nonStreaming, openaiRequest } from './requests.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface PortkeyInstall {
  /** The package's directory. */
  dir: string;
  version: string;
  /** Its start script (the package's `bin`). */
  bin: string;
  /** The @hono/node-server it resolves: its HTTP layer, and the cause of the streaming failure. */
  honoNodeServer: string;
}

/**
 * The repo's devDependency, or the copy in `BENCH_PORTKEY_DIR` (a directory with its own
 * node_modules, e.g. one installed with an `overrides` pin of @hono/node-server).
 */
export function findPortkey(): PortkeyInstall | { skip: string } {
  const root = process.env.BENCH_PORTKEY_DIR ?? REPO;
  const dir = join(root, 'node_modules', '@portkey-ai', 'gateway');
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath))
    return { skip: `@portkey-ai/gateway is not installed in ${root} (npm install)` };
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string; bin: unknown };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : 'build/start-server.js';
  return {
    dir,
    version: manifest.version,
    bin: join(dir, bin),
    honoNodeServer: resolvedVersion(dir, '@hono/node-server'),
  };
}

/** The version of `name` that Node's resolution finds from `dir` (nearest node_modules up). */
function resolvedVersion(dir: string, name: string): string {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, 'node_modules', name, 'package.json');
    if (existsSync(manifest))
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    if (dirname(at) === at) return 'not found';
  }
}

export function startPortkey(install: PortkeyInstall): Promise<ServerProcess> {
  // --headless: no web UI (a dev tool); the gateway itself is unchanged.
  return startServerProcess(
    'Portkey',
    process.execPath,
    (port) => [install.bin, `--port=${port}`, '--headless'],
    {
      cwd: install.dir,
    },
  );
}

/** Portkey's route to an OpenAI-compatible server at `upstreamUrl`, as its docs describe. */
export function portkeyRequest(portkeyUrl: string, upstreamUrl: string): RequestSpec {
  return openaiRequest(portkeyUrl, {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${upstreamUrl}/v1`,
  });
}

export interface PortkeyProbe {
  nonStreaming: { ok: boolean; detail: string; addedP50Ms?: number; addedP99Ms?: number };
  streaming: { ok: true } | { ok: false; error: string };
}

const NON_STREAMING_SAMPLES = 20;

/** One streamed answer and a few plain ones, through Portkey and directly. */
export async function probePortkey(portkey: ServerProcess, upstreamUrl: string): Promise<PortkeyProbe> {
  const through = portkeyRequest(portkey.url, upstreamUrl);
  const streamed = await runLoad({ request: through, concurrency: 1, expectedDeltas: EXPECTED_DELTAS });
  const streaming: PortkeyProbe['streaming'] =
    streamed.errors === 0 && streamed.stalled === 0
      ? { ok: true }
      : { ok: false, error: streamingFailure(portkey, streamed.errorSamples[0] ?? 'the stream stalled') };

  const plain = nonStreaming(through);
  const first = await timeRequest(plain);
  if (first.status !== 200) {
    return {
      streaming,
      nonStreaming: { ok: false, detail: `HTTP ${first.status}: ${first.body.slice(0, 200)}` },
    };
  }
  const direct = nonStreaming(openaiRequest(upstreamUrl));
  const viaPortkey: number[] = [];
  const directly: number[] = [];
  for (let i = 0; i < NON_STREAMING_SAMPLES; i++) {
    viaPortkey.push((await timeRequest(plain)).ms);
    directly.push((await timeRequest(direct)).ms);
  }
  const [a, b] = [percentiles(viaPortkey), percentiles(directly)];
  return {
    streaming,
    nonStreaming: {
      ok: true,
      detail: `${NON_STREAMING_SAMPLES} sequential requests`,
      addedP50Ms: a.p50 - b.p50,
      addedP99Ms: a.p99 - b.p99,
    },
  };
}

/**
 * The client sees `{"status":"failure","message":"Something went wrong"}`; the real error is
 * in Portkey's log, which is quoted here (its first error line, e.g. `TypeError: immutable`).
 */
function streamingFailure(portkey: ServerProcess, clientError: string): string {
  const log = portkey.process.output();
  const thrown = /\b(\w*Error: [^\n]+)((?:\n\s+at [^\n]+)+)/.exec(log);
  if (thrown === null) return clientError;
  // The first frame in Portkey's own code says where; Node's internal frames do not.
  const frame = thrown[2]!
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('at ') && !line.includes('node:internal'));
  const where = frame?.replace(/\(file:\/\/\S*\/(node_modules\/\S+?)(:\d+)+\)/, '($1)');
  return `${thrown[1]!.trim()}${where === undefined ? '' : ` (${where})`}`;
}

async function timeRequest(request: RequestSpec): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(new URL(request.path, request.url), {
    method: 'POST',
    headers: { ...request.headers, 'content-type': 'application/json' },
    body: request.body,
  });
  const body = await response.text();
  return { status: response.status, body, ms: performance.now() - started };
}

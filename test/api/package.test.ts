import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_POINTS, ROOT } from './entry-points.ts';

const run = promisify(execFile);

// What a library user gets: the packed tarball, installed into an empty project with npm, then
// imported from ESM and from CommonJS by the Node running this test (the project's Node 24).
// `npm run pack:check` runs this file alone.

/** The optional peer dependencies, and the entry points and commands that need them. */
const GATEWAY_PEERS = ['fastify', '@fastify/cors', 'pino', 'prom-client'];
const MCP_PEERS = ['@modelcontextprotocol/sdk'];

let project: string;
let files: string[];

/** Runs `node` in the user's project; never throws, so a test can check a failure's words. */
async function node(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, args, { cwd: project, env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

/** The project's own copies of `names`, linked in: what `npm install fastify …` would add. */
function linkPeers(names: readonly string[]): void {
  for (const name of names) {
    const link = join(project, 'node_modules', name);
    if (existsSync(link)) continue;
    mkdirSync(join(link, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), link, 'dir');
  }
}

function installedPackages(): string[] {
  const dir = join(project, 'node_modules');
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) =>
      name.startsWith('@') ? readdirSync(join(dir, name)).map((sub) => `${name}/${sub}`) : [name],
    )
    .sort();
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'sluice-user-'));
  // `npm pack` runs the prepack script, which builds dist/ afresh.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: ROOT });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed!.files.map((file) => file.path);
  writeFileSync(join(project, 'package.json'), '{ "name": "user", "private": true }\n');
  // From npm's cache: the library's own dependencies are those of the project, already fetched.
  await run(
    'npm',
    ['install', join(project, packed!.filename), '--prefer-offline', '--no-audit', '--no-fund'],
    {
      cwd: project,
    },
  );
}, 180_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds dist/ with JavaScript and declarations for every entry point, and no sources or tests', () => {
    for (const file of Object.values(ENTRY_POINTS)) {
      const built = file.replace(/^src\//, 'dist/').replace(/\.ts$/, '');
      expect(files).toContain(`${built}.js`);
      expect(files).toContain(`${built}.d.ts`);
    }
    expect(files).toContain('bin/sluice');
    expect(files.filter((file) => /^(src|test|bench|scripts)\//.test(file))).toEqual([]);
  });

  it('installs the library’s two dependencies and its one required peer (zod) and nothing else: no Node binary, server or dev tooling', () => {
    expect(installedPackages()).toEqual(['commander', 'eventsource-parser', 'sluice', 'zod']);
  });

  it('imports sluice, sluice/providers and sluice/testing from ESM without the optional packages', async () => {
    const script = `
      const { Client, textOf } = await import('sluice');
      const { createSimulatedProvider } = await import('sluice/testing');
      const { ProviderRegistry } = await import('sluice/providers');
      const client = new Client('sim:default', { provider: createSimulatedProvider() });
      console.log(typeof ProviderRegistry, textOf(await client.create('Hi', { maxTokens: 5 })).length > 0);`;
    const result = await node(['--input-type=module', '-e', script]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('function true\n');
  });

  it('names the missing package when sluice/server or sluice/mcp is imported without it', async () => {
    const server = await node(['--input-type=module', '-e', "await import('sluice/server')"]);
    expect(server.code).not.toBe(0);
    expect(server.stderr).toMatch(/Cannot find package '(fastify|@fastify\/cors|pino|prom-client)'/);
    const mcp = await node(['--input-type=module', '-e', "await import('sluice/mcp')"]);
    expect(mcp.stderr).toMatch(/Cannot find package '@modelcontextprotocol\/sdk'/);
  });

  it('runs sluice chat without the optional packages; sluice serve and sluice mcp say what to install', async () => {
    const bin = join(project, 'node_modules', '.bin', 'sluice');
    const path = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`; // bin/sluice runs `node`
    const chatRun = await run(bin, ['chat', '--max-tokens', '5', 'Hi'], {
      cwd: project,
      // The CLI logs every answer in the user's folder: the project's, not this machine's.
      env: {
        ...process.env,
        PATH: path,
        SLUICE_SIM_TPS: '0',
        ANTHROPIC_API_KEY: '',
        SLUICE_USER_DIR: project,
      },
    });
    expect(chatRun.stdout.trim().length).toBeGreaterThan(0);
    const serve = await run(bin, ['serve', '--port', '0'], {
      cwd: project,
      env: { ...process.env, PATH: path },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(serve.code).toBe(1);
    // One line, naming the first missing package and everything the gateway needs.
    const [line, ...rest] = serve.stderr.split('\n');
    expect(rest).toEqual(['']);
    expect(line).toMatch(
      /^sluice: sluice serve needs (fastify|@fastify\/cors|pino|prom-client), an optional dependency/,
    );
    expect(line).toContain(`run \`npm install ${GATEWAY_PEERS.join(' ')}\`.`);
    const mcp = await run(bin, ['mcp', 'tools', '--', 'any-server'], {
      cwd: project,
      env: { ...process.env, PATH: path },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(mcp.code).toBe(1);
    expect(mcp.stderr).toContain(
      `MCP needs @modelcontextprotocol/sdk, an optional dependency of sluice that is not installed: run \`npm install ${MCP_PEERS.join(' ')}\`.`,
    );
  });

  it('imports every entry point from ESM and from CommonJS require once the optional packages are there', async () => {
    linkPeers([...GATEWAY_PEERS, ...MCP_PEERS]);
    const subpaths = JSON.stringify(Object.keys(ENTRY_POINTS));
    const count = `(m) => Object.keys(m).length`;
    const esm = await node([
      '--input-type=module',
      '-e',
      `const n = ${count}; for (const p of ${subpaths}) console.log(p, n(await import(p)));`,
    ]);
    const cjs = await node([
      '--input-type=commonjs',
      '-e',
      `const n = ${count}; for (const p of ${subpaths}) console.log(p, n(require(p)));`,
    ]);
    expect(esm.stderr).toBe('');
    expect(cjs.stderr).toBe('');
    const lines = esm.stdout.trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual(Object.keys(ENTRY_POINTS));
    for (const line of lines) expect(Number(line.split(' ')[1])).toBeGreaterThan(0);
    expect(cjs.stdout).toBe(esm.stdout);
  });

  it('serves the chat page at / from the installed package (web/ is in the tarball)', async () => {
    expect(files).toContain('web/index.html');
    expect(files).toContain('web/vendor/marked.esm.js');
    expect(files).toContain('web/vendor/marked.LICENSE.md');
    linkPeers(GATEWAY_PEERS);
    const script = `
import { createServer } from 'sluice/server';
const app = createServer();
const url = await app.listen({ host: '127.0.0.1', port: 0 });
for (const path of ['/', '/web/app.js', '/web/vendor/marked.esm.js']) {
  const response = await fetch(url + path);
  console.log(path, response.status, response.headers.get('content-type'));
}
await app.close();
`;
    const served = await node(['--input-type=module', '-e', script]);
    expect(served.stderr).toBe('');
    expect(served.stdout.trim().split('\n')).toEqual([
      '/ 200 text/html; charset=utf-8',
      '/web/app.js 200 text/javascript; charset=utf-8',
      '/web/vendor/marked.esm.js 200 text/javascript; charset=utf-8',
    ]);
  });

  it('types every entry point for a TypeScript user, from ESM and from CommonJS', async () => {
    // Uses the declarations and the `types` conditions of the installed package, nothing else.
    writeFileSync(
      join(project, 'esm.mts'),
      `import { Client, textOf, type Message } from 'sluice';
import { createAnthropicProvider } from 'sluice/providers';
import { createServer } from 'sluice/server';
import { connectMcp } from 'sluice/mcp';
import { ScriptedProvider, Simulator } from 'sluice/testing';
const message: Message = await new Client('sim:default').create('Hi');
export const checked = [textOf(message), createAnthropicProvider, createServer, connectMcp, ScriptedProvider, Simulator];
`,
    );
    writeFileSync(
      join(project, 'cjs.cts'),
      `import sluice = require('sluice');
import testing = require('sluice/testing');
export const client: sluice.Client = new sluice.Client('sim:default', { provider: testing.createSimulatedProvider() });
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    const result = await run(tsc, ['-p', join(project, 'tsconfig.json')], { cwd: project }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe('');
  }, 60_000);
});

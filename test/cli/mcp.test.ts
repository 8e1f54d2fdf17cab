import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';
import { type CliRun, runSluice } from '../helpers/cli.ts';
import { isAlive } from '../helpers/processes.ts';

const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const node = process.execPath;
const sluice = (args: string[]) => runSluice(args);

// server-everything started through a wrapper that records its pid: a server process still
// alive once the CLI has exited is a leak.
const scratch = mkdtempSync(join(tmpdir(), 'sluice-mcp-test-'));
const wrapper = join(scratch, 'record-pid.mjs');
const pidFiles: string[] = [];

/** The server's command words, and the pids of the servers it started. */
function recordedServer(): { words: string[]; pids: () => number[] } {
  const pidFile = join(scratch, `pids-${pidFiles.length}`);
  pidFiles.push(pidFile);
  writeFileSync(pidFile, '');
  return {
    words: [node, wrapper, pidFile, everything, 'stdio'],
    pids: () => pidsIn(pidFile),
  };
}

function pidsIn(file: string): number[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

/** Every server the run started has exited: the CLI waited for it before exiting itself. */
function expectNoServerLeft(pids: number[]): void {
  expect(pids.length).toBeGreaterThan(0);
  expect(pids.filter(isAlive)).toEqual([]);
}

/** A command line string for `--mcp`, every word quoted (paths may hold spaces). */
function commandLine(words: string[]): string {
  return words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
}

function expectOneLineError(run: CliRun, pattern: RegExp, code = 1): void {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^sluice: [^\n]+\n$/);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toContain('    at ');
}

beforeAll(() => {
  writeFileSync(
    wrapper,
    `import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [pidFile, server] = process.argv.slice(2);
appendFileSync(pidFile, process.pid + '\\n');
// The server reads its transport from argv[2], as if started directly.
process.argv.splice(2, 2);
await import(pathToFileURL(server).href);
`,
  );
});

afterAll(() => {
  // A failed test must not leave servers behind either.
  for (const file of pidFiles) {
    for (const pid of pidsIn(file)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(scratch, { recursive: true, force: true });
});

// One CLI run at a time: each starts two Node processes (about 1.5 s of CPU), and several at
// once beside the other test files took runs past the 10 s exit limit on 2 cores.
describe('sluice mcp', () => {
  it('tools lists each tool as name — description, in the server’s order', async () => {
    const run = await sluice(['mcp', 'tools', '--', node, everything, 'stdio']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^[\w-]+ — \S.*$/);
    expect(lines).toContain('echo — Echoes back the input string');
    expect(lines).toContain('get-sum — Returns the sum of two numbers');
    // Listed because the CLI declares sampling, which `mcp call` serves.
    expect(lines).toContain('trigger-sampling-request — Trigger a Request from the Server for LLM Sampling');
    expect(lines.indexOf('echo — Echoes back the input string')).toBe(0);
  });

  it('tools --json prints the tool list as the server gives it', async () => {
    const server = recordedServer();
    const run = await sluice(['mcp', 'tools', '--json', '--', ...server.words]);
    expect(run.code).toBe(0);
    const tools = JSON.parse(run.stdout) as Array<{ name: string; inputSchema: { type: string } }>;
    const sum = tools.find((tool) => tool.name === 'get-sum');
    expect(sum?.inputSchema.type).toBe('object');
    expectNoServerLeft(server.pids());
  });

  it('call prints the text of the result, and the server has exited when the CLI has', async () => {
    const server = recordedServer();
    const run = await sluice(['mcp', 'call', 'echo', '--args', '{"message":"hi"}', '--', ...server.words]);
    expect(run).toEqual({ code: 0, stdout: 'Echo: hi\n', stderr: '' });
    expectNoServerLeft(server.pids());
  });

  it("call serves the server's sampling request with the default model, exactly", async () => {
    const args = JSON.stringify({ prompt: 'What is a sluice?', maxTokens: 40 });
    const run = await sluice([
      'mcp',
      'call',
      'trigger-sampling-request',
      '--args',
      args,
      '--',
      node,
      everything,
    ]);
    // The request the server sends, made in-process.
    const expected = await new Client('sim:default', { registry: unpacedRegistry() }).create(
      [{ role: 'user', content: 'Resource trigger-sampling-request context: What is a sluice?' }],
      { system: 'You are a helpful test server.', maxTokens: 40, temperature: 0.7 },
    );
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith('LLM sampling result: \n{')).toBe(true);
    // The server quotes the sampling result as JSON.
    const sampled = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
      model: string;
      stopReason: string;
      content: { type: string; text: string };
    };
    expect(sampled.model).toBe('sim:default');
    expect(sampled.stopReason).toBe('maxTokens');
    expect(sampled.content).toEqual({ type: 'text', text: textOf(expected) });
  });

  it('call --model picks the model that answers sampling; an unknown provider fails before the server starts', async () => {
    const args = JSON.stringify({ prompt: 'Hi', maxTokens: 10 });
    const [named, unknown] = await Promise.all([
      sluice([
        'mcp',
        'call',
        'trigger-sampling-request',
        '--args',
        args,
        '--model',
        'sim:other',
        '--',
        node,
        everything,
      ]),
      sluice(['mcp', 'call', 'echo', '--model', 'nope:x', '--', 'definitely-not-a-command-xyz']),
    ]);
    expect(named.code).toBe(0);
    expect(named.stdout).toContain('"model": "sim:other"');
    expectOneLineError(unknown, /Unknown provider 'nope'/);
  });

  it('call summarises an image instead of printing it', async () => {
    const run = await sluice(['mcp', 'call', 'get-tiny-image', '--', node, everything, 'stdio']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^\[image image\/png, [1-9]\d* bytes\]$/);
  });

  it('call --json prints the whole result', async () => {
    const run = await sluice([
      'mcp',
      'call',
      'get-sum',
      '--json',
      '--args',
      '{"a":2,"b":3}',
      '--',
      node,
      everything,
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ content: [{ type: 'text', text: 'The sum of 2 and 3 is 5.' }] });
  });

  it('a result the tool marks as an error goes to stderr, exit 1', async () => {
    const run = await sluice(['mcp', 'call', 'get-sum', '--args', '{"a":"x","b":3}', '--', node, everything]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/Invalid arguments for tool get-sum/);
  });

  it('a server command that does not exist is one line naming it, exit 1', async () => {
    const run = await sluice(['mcp', 'tools', '--', 'definitely-not-a-command-xyz', '--flag']);
    expectOneLineError(
      run,
      /^sluice: Could not start the MCP server `definitely-not-a-command-xyz --flag`: .*ENOENT/,
    );
  });

  it('an unknown tool is one line naming the tools there are, exit 1, and the server is closed', async () => {
    const server = recordedServer();
    const run = await sluice(['mcp', 'call', 'no-such-tool', '--', ...server.words]);
    expectOneLineError(run, /'no-such-tool'.*: echo, get-annotated-message, .*get-sum/);
    expectNoServerLeft(server.pids());
  });

  it('usage mistakes are one line, exit 2, and start no server', async () => {
    const server = recordedServer();
    const runs = await Promise.all([
      sluice(['mcp', 'call', 'echo', '--args', '{"message":', '--', ...server.words]),
      sluice(['mcp', 'call', 'echo', '--args', '["hi"]', '--', ...server.words]),
      sluice(['mcp', 'tools']),
      sluice(['mcp', 'tools', '--url', 'http://127.0.0.1:9/mcp', '--', ...server.words]),
      sluice(['mcp', 'tools', '--url', 'ftp://example.com']),
    ]);
    const [notJson, notObject, noServer, both, notHttp] = runs;
    expectOneLineError(notJson!, /--args takes a JSON object/, 2);
    expectOneLineError(notObject!, /--args takes a JSON object.*not \["hi"\]/, 2);
    expectOneLineError(noServer!, /No MCP server: give its command after --/, 2);
    expectOneLineError(both!, /not both/, 2);
    expectOneLineError(notHttp!, /--url takes an http:\/\/ or https:\/\/ URL/, 2);
    expect(server.pids()).toEqual([]);
  });
});

describe('sluice chat --mcp', () => {
  it("runs the servers' tools in a tool loop, each call a line on stderr", async () => {
    const server = recordedServer();
    const run = await sluice(['chat', '--mcp', commandLine(server.words), 'Use get-sum to add 2 and 3']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^I'll use the get-sum tool\.\n/);
    expect(run.stdout).toContain('The get-sum tool returned The sum of 2 and 3 is 5., so the answer is');
    expect(run.stderr).toContain('→ get-sum {"a":2,"b":3} = The sum of 2 and 3 is 5.\n');
    // A figures line for each of the two model calls.
    expect(run.stderr.match(/^TTFT /gm)).toHaveLength(2);
    expectNoServerLeft(server.pids());
  });

  it("serves the servers' sampling with the chat's model", async () => {
    const run = await sluice([
      'chat',
      '--model',
      'sim:other',
      '--mcp',
      commandLine([node, everything, 'stdio']),
      'Use trigger-sampling-request with prompt "Hello there"',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"model": "sim:other"');
    expect(run.stderr).toContain('→ trigger-sampling-request {"prompt":"Hello there","maxTokens":100} = ');
  });

  it('--json prints only the final message', async () => {
    const run = await sluice([
      'chat',
      '--json',
      '--mcp',
      commandLine([node, everything]),
      'Use get-sum to add 2 and 3',
    ]);
    expect(run.code).toBe(0);
    const message = JSON.parse(run.stdout) as { stop_reason: string };
    expect(message.stop_reason).toBe('end_turn');
  });

  it('a server that fails to start is one line naming its command, exit 1', async () => {
    const [missing, unclosed] = await Promise.all([
      sluice(['chat', '--mcp', 'definitely-not-a-command-xyz', 'Hi']),
      sluice(['chat', '--mcp', "'unclosed", 'Hi']),
    ]);
    expectOneLineError(missing, /^sluice: Could not start the MCP server `definitely-not-a-command-xyz`: /);
    // A usage mistake: its line, then the command's usage.
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toMatch(
      /^sluice: --mcp: Unclosed ' quote[^\n]*\nUsage: sluice chat \[options\] \[prompt\.\.\.\]\n/,
    );
  });
});

/** A port free a moment ago, for a server that takes its port from the environment. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('sluice mcp over Streamable HTTP', () => {
  let url: string;
  let server: ReturnType<typeof spawn>;
  let log = '';

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(node, [everything, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      server.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('listening on port')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`The HTTP server exited with ${code}: ${log}`)));
    });
    url = `http://127.0.0.1:${port}/mcp`;
  });
  afterAll(() => {
    server.kill();
  });

  it('--url calls a tool, and ends its session', async () => {
    const run = await sluice(['mcp', 'call', 'get-sum', '--args', '{"a":1,"b":2}', '--url', url]);
    expect(run).toEqual({ code: 0, stdout: 'The sum of 1 and 2 is 3.\n', stderr: '' });
    expect(log).toMatch(/Received session termination request/);
  });

  it('chat --mcp-url gives the chat its tools', async () => {
    const run = await sluice(['chat', '--mcp-url', url, 'Use get-sum to add 2 and 3']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('→ get-sum {"a":2,"b":3} = The sum of 2 and 3 is 5.\n');
  });
});

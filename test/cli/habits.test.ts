import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEntry } from '../../src/cli/log-store.ts';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';
import { BASE_ENV, type CliRun, cliMain, repoRoot, runSluice } from '../helpers/cli.ts';
import { useSimulator } from '../helpers/simulator.ts';

// Each test has a user folder of its own: its log, its templates, its logs-off switch.
const folders: string[] = [];
let env: Record<string, string>;
beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-habits-'));
  folders.push(dir);
  env = { SLUICE_USER_DIR: dir };
});
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

// Several CLI runs per test, each a second or two on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

const sluice = (args: string[], input?: string, extra: Record<string, string> = {}) =>
  runSluice(args, { input, env: { ...env, ...extra } });

async function logs(args: string[] = []): Promise<LogEntry[]> {
  const run = await sluice(['logs', '--json', ...args]);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as LogEntry[];
}

/** What the simulated model answers, asked in-process. */
async function answerTo(prompt: string): Promise<string> {
  return textOf(await new Client('sim:default', { registry: unpacedRegistry() }).create(prompt));
}

function expectUsageMistake(run: CliRun, message: RegExp, usage: string): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n');
  expect(lines[0]).toMatch(/^sluice: /);
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toBe(`Usage: ${usage}`);
  // The usage, not the whole help.
  expect(run.stderr).not.toContain('Options:');
  expect(run.stderr).not.toContain('    at ');
}

describe('llm habits: prompts', () => {
  it('sluice "prompt" is sluice chat "prompt"', async () => {
    const short = await sluice(['What is a sluice?']);
    const long = await sluice(['chat', 'What is a sluice?']);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(long.stdout);
    expect(short.stdout).toBe(`${await answerTo('What is a sluice?')}\n`);
  });

  it('a prompt and piped stdin are joined: the prompt, a blank line, stdin', async () => {
    // A shell pipe, as a user types it.
    const piped = spawnSync(
      'sh',
      ['-c', `echo "the quick brown fox" | '${process.execPath}' '${cliMain}' "Summarize this:"`],
      {
        cwd: repoRoot,
        env: { ...process.env, ...BASE_ENV, ...env },
        encoding: 'utf8',
      },
    );
    expect(piped.status).toBe(0);
    expect(piped.stdout).toBe(`${await answerTo('Summarize this:\n\nthe quick brown fox')}\n`);
    // A program that leaves stdin open (a socket, not a pipe) and gives a prompt is answered at once.
    const open = spawn(process.execPath, [cliMain, 'Hi'], {
      cwd: repoRoot,
      env: { ...process.env, ...BASE_ENV, ...env },
    });
    let stdout = '';
    open.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    expect(await new Promise((resolve) => open.once('close', resolve))).toBe(0);
    expect(stdout).toBe(`${await answerTo('Hi')}\n`);
  });
});

describe('llm habits: the log', () => {
  it('logs model, prompt, answer, usage, cost, TTFT and conversation; sluice logs shows them', async () => {
    const run = await sluice(['I am Jeremy']);
    const [entry] = await logs();
    expect(entry).toMatchObject({
      model: 'sim:default',
      prompt: 'I am Jeremy',
      response: run.stdout.slice(0, -1),
      stopReason: 'end_turn',
      cost: 0,
      error: null,
    });
    expect(entry!.inputTokens).toBeGreaterThan(0);
    expect(entry!.outputTokens).toBeGreaterThan(0);
    expect(entry!.ttftMs).toBeGreaterThanOrEqual(0);
    expect(entry!.conversationId).toMatch(/^[0-9a-z]{12,}$/);
    const text = await sluice(['logs']);
    expect(text.stdout).toContain(`## Prompt\n\nI am Jeremy\n\n## Response\n\n${entry!.response}\n`);
    expect(text.stdout).toContain(`conversation: ${entry!.conversationId}`);
  });

  it('-c continues the latest conversation with its history, --cid any other; -n and -c filter', async () => {
    await sluice(["I'm Jeremy"]);
    const continued = await sluice(['-c', "What's my name?"]);
    expect(continued.stdout).toContain('Your name is Jeremy');
    const [first] = await logs(['-n', '1']);
    await sluice(['Something else entirely']);
    const other = await sluice(['--cid', first!.conversationId, "What's my name?"]);
    expect(other.stdout).toContain('Your name is Jeremy');
    const all = await logs(['-n', '0']);
    expect(all.map((entry) => entry.conversationId)).toEqual([
      first!.conversationId,
      first!.conversationId,
      all[2]!.conversationId,
      first!.conversationId,
    ]);
    expect(all[2]!.conversationId).not.toBe(first!.conversationId);
    expect((await logs(['-c'])).map((entry) => entry.prompt)).toEqual([
      "I'm Jeremy",
      "What's my name?",
      "What's my name?",
    ]);
    expect((await logs(['--cid', all[2]!.conversationId])).map((entry) => entry.prompt)).toEqual([
      'Something else entirely',
    ]);
    expectUsageMistake(
      await sluice(['--cid', 'nope', 'Hi']),
      /No conversation 'nope' in the log/,
      'sluice chat [options] [prompt...]',
    );
  });

  it('--no-log and sluice logs off stop logging; logs on resumes; SLUICE_LOGS_DB moves the log', async () => {
    await sluice(['--no-log', 'one']);
    expect(await logs()).toEqual([]);
    expect((await sluice(['logs', 'off'])).stdout).toBe('Logging is off.\n');
    await sluice(['two']);
    expect(await logs()).toEqual([]);
    expect((await sluice(['logs', 'status'])).stdout).toMatch(/^Logging is off; the log is .*logs\.db\.\n$/);
    await sluice(['logs', 'on']);
    await sluice(['three']);
    expect((await logs()).map((entry) => entry.prompt)).toEqual(['three']);
    const moved = join(env.SLUICE_USER_DIR!, 'elsewhere', 'my.db');
    await sluice(['four'], undefined, { SLUICE_LOGS_DB: moved });
    expect(existsSync(moved)).toBe(true);
    expect((await sluice(['logs', 'path'], undefined, { SLUICE_LOGS_DB: moved })).stdout).toBe(`${moved}\n`);
    expect((await logs()).map((entry) => entry.prompt)).toEqual(['three']);
  });
});

describe('llm habits: options, attachments, schemas, templates', () => {
  it('-o sets request options: max_tokens and stop end the answer where asked', async () => {
    const run = await sluice(['-o', 'max_tokens', '5', 'Write a long essay on rivers.']);
    expect(run.code).toBe(0);
    const [entry] = await logs();
    expect(entry).toMatchObject({
      stopReason: 'max_tokens',
      outputTokens: 5,
      options: { options: ['max_tokens=5'] },
    });
    const full = await answerTo('Write a long essay on rivers.');
    const word = full.split(' ')[3]!;
    const stopped = await sluice(['-o', 'stop', word, '-o', 'top_p', '0.9', 'Write a long essay on rivers.']);
    expect(stopped.stdout).toBe(`${full.slice(0, full.indexOf(word))}\n`);
    expect((await logs(['-n', '1']))[0]!.stopReason).toBe('stop_sequence');
  });

  it('-a sends an image and a PDF with the prompt', async () => {
    const images = join(repoRoot, 'test', 'fixtures', 'images');
    const run = await sluice([
      '-a',
      join(images, 'tiny.png'),
      '-a',
      join(images, 'tiny.pdf'),
      'What is in these?',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/image/i);
    const [entry] = await logs();
    expect(entry!.options).toEqual({ attachments: [join(images, 'tiny.png'), join(images, 'tiny.pdf')] });
    expectUsageMistake(
      await sluice(['-a', 'missing.png', 'Hi']),
      /-a missing\.png: no such file/,
      'sluice chat [options] [prompt...]',
    );
  });

  it("--schema in llm's concise form and as a file: the answer is JSON of that shape", async () => {
    const concise = await sluice(['--schema', 'name, age int: in years', 'Invent a person']);
    expect(concise.code).toBe(0);
    const person = JSON.parse(concise.stdout) as { name: unknown; age: unknown };
    expect(Object.keys(person)).toEqual(['name', 'age']);
    expect(typeof person.name).toBe('string');
    expect(Number.isInteger(person.age)).toBe(true);
    const file = join(env.SLUICE_USER_DIR!, 'schema.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'object',
        properties: { city: { type: 'string' }, sunny: { type: 'boolean' } },
        required: ['city', 'sunny'],
      }),
    );
    const fromFile = JSON.parse((await sluice(['--schema', file, 'Weather?'])).stdout) as Record<
      string,
      unknown
    >;
    expect(Object.keys(fromFile).sort()).toEqual(['city', 'sunny']);
    expect(typeof fromFile.sunny).toBe('boolean');
    expectUsageMistake(
      await sluice(['--schema', 'name, age integer', 'Hi']),
      /--schema: 'age integer' is not a field/,
      'sluice chat [options] [prompt...]',
    );
  });

  it('--save keeps model, system prompt and options as a template; --template applies them', async () => {
    const saved = await sluice([
      '--system',
      'Answer in one word.',
      '-o',
      'max_tokens',
      '3',
      '--save',
      'short',
    ]);
    expect(saved.code).toBe(0);
    expect(saved.stdout).toMatch(/^Saved template short to .*short\.json\n$/);
    expect(JSON.parse(readFileSync(join(env.SLUICE_USER_DIR!, 'templates', 'short.json'), 'utf8'))).toEqual({
      system: 'Answer in one word.',
      options: ['max_tokens=3'],
    });
    await sluice(['--template', 'short', 'Write a long essay on rivers.']);
    const [entry] = await logs();
    expect(entry).toMatchObject({
      system: 'Answer in one word.',
      outputTokens: 3,
      options: { template: 'short' },
    });
    expectUsageMistake(
      await sluice(['--template', 'nope', 'Hi']),
      /No template named 'nope'; saved: short/,
      'sluice chat [options] [prompt...]',
    );
  });
});

describe('sluice models', () => {
  const sim = useSimulator();

  it("lists each provider's models from its /v1/models, and the aliases; an unreachable one is exit 1", async () => {
    const config = join(env.SLUICE_USER_DIR!, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        providers: { local: { type: 'anthropic', baseURL: sim.url, apiKeyEnv: 'LOCAL_KEY' } },
        aliases: { fast: 'local:default', smart: 'sim:default' },
      }),
    );
    const run = await sluice(['models', '--config', config], undefined, { LOCAL_KEY: 'sk-local' });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'sim:default\nlocal:default\n\nAliases:\n  fast   → local:default\n  smart  → sim:default\n',
    );
    writeFileSync(
      config,
      JSON.stringify({
        providers: { down: { type: 'openai', baseURL: 'http://127.0.0.1:9/v1', apiKeyEnv: 'LOCAL_KEY' } },
      }),
    );
    const down = await sluice(['models', '--config', config, '--json'], undefined, { LOCAL_KEY: 'sk-local' });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout)).toMatchObject({ models: ['sim:default'], aliases: {} });
    expect(down.stderr).toMatch(
      /^sluice: could not list down: http:\/\/127\.0\.0\.1:9\/v1\/models: [^\n]+\n$/,
    );
  });
});

describe('exit codes', () => {
  it('a usage mistake in any command is one line and its usage, exit 2', async () => {
    const chat = 'sluice chat [options] [prompt...]';
    expectUsageMistake(await sluice(['--bogus', 'Hi']), /unknown option '--bogus'/, chat);
    expectUsageMistake(await sluice(['-o', 'top_p', '2', 'Hi']), /-o top_p takes a number from 0 to 1/, chat);
    expectUsageMistake(
      await sluice(['-o', 'colour', 'red', 'Hi']),
      /-o takes a key and a value; the keys are temperature/,
      chat,
    );
    expectUsageMistake(await sluice(['--max-tokens', 'x', 'Hi']), /--max-tokens takes a whole number/, chat);
    expectUsageMistake(
      await sluice(['-c', '--cid', 'x', 'Hi']),
      /-c and --cid both choose a conversation/,
      chat,
    );
    expectUsageMistake(
      await sluice(['logs', 'sideways']),
      /sluice logs takes off, on, status or path/,
      'sluice logs [options] [switch]',
    );
    expectUsageMistake(
      await sluice(['logs', '-n', 'x']),
      /--count takes a whole number/,
      'sluice logs [options] [switch]',
    );
    expectUsageMistake(
      await sluice(['serve', '--bogus']),
      /unknown option '--bogus'/,
      'sluice serve [options]',
    );
    expectUsageMistake(
      await sluice(['simulate', '--bogus']),
      /unknown option '--bogus'/,
      'sluice simulate [options]',
    );
  });

  it('a failed call is exit 1 with one line; help and version are 0', async () => {
    const failed = await sluice(['-m', 'anthropic:claude-haiku-4-5', 'Hi'], undefined, {
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      SLUICE_MAX_RETRIES: '0',
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^sluice: [^\n]+\n$/m);
    expect((await sluice(['--help'])).code).toBe(0);
    expect((await sluice(['chat', '--help'])).code).toBe(0);
    expect((await sluice(['--version'])).code).toBe(0);
  });

  it('Ctrl-C stops an answer: what came stays printed, the entry is logged as stopped, exit 130', async () => {
    const child = spawn(process.execPath, [cliMain, 'Write a long essay on rivers, in detail.'], {
      cwd: repoRoot,
      env: { ...process.env, ...BASE_ENV, ...env, SLUICE_SIM_TTFT_MS: '0', SLUICE_SIM_TPS: '50' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    const started = new Promise<void>((resolve) =>
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.length > 20) resolve();
      }),
    );
    await started;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(130);
    const full = await answerTo('Write a long essay on rivers, in detail.');
    expect(full.startsWith(stdout.trimEnd())).toBe(true);
    expect(stdout.trimEnd().length).toBeLessThan(full.length);
    const [entry] = await logs();
    expect(entry).toMatchObject({ error: 'stopped', prompt: 'Write a long essay on rivers, in detail.' });
  });
});

describe('Ctrl-C in the long-running commands', () => {
  for (const command of [
    ['simulate', '--port', '0'],
    ['serve', '--port', '0'],
  ]) {
    it(`sluice ${command[0]} stops on Ctrl-C with exit 130`, async () => {
      const child = spawn(process.execPath, [cliMain, ...command], {
        cwd: repoRoot,
        env: { ...process.env, ...BASE_ENV, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      await new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('listening on')) resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
      });
      child.kill('SIGINT');
      expect(await new Promise((resolve) => child.once('close', resolve))).toBe(130);
    });
  }
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe.skipIf(!hasTmux)('sluice -c in a terminal (tmux)', () => {
  const socket = `sluice-habits-test-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  afterAll(() => {
    spawnSync('tmux', ['-L', socket, 'kill-server']);
  });

  async function waitForScreen(ready: (text: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 8000;
    let text = '';
    while (Date.now() < deadline) {
      text = tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'habits');
      if (ready(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`Timed out waiting for ${what}; the screen:\n${text}`);
  }

  it('an interactive session continues the logged conversation, logs its own turns into it, and Ctrl-C twice quits with 130', async () => {
    await sluice(["I'm Jeremy"]);
    // tmux runs the command through a shell, which notes the CLI's exit code.
    const exitFile = join(env.SLUICE_USER_DIR!, 'exit-code');
    const command = `'${process.execPath}' '${cliMain}' -c; echo $? > '${exitFile}'`;
    const sessionEnv = { ...BASE_ENV, ...env };
    tmux(
      'new-session',
      '-d',
      '-s',
      'habits',
      '-x',
      '120',
      '-y',
      '40',
      '-c',
      repoRoot,
      ...Object.entries(sessionEnv).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
      command,
    );
    await waitForScreen((text) => text.includes('Ctrl-C stops an answer\n>'), 'the prompt');
    tmux('send-keys', '-t', 'habits', '-l', "What's my name?");
    tmux('send-keys', '-t', 'habits', 'Enter');
    const screen = await waitForScreen((text) => /TTFT [^\n]*\n>/.test(text), 'the answer');
    expect(screen).toContain('Your name is Jeremy');
    // Ctrl-C twice at the empty prompt quits, with Ctrl-C's exit code.
    tmux('send-keys', '-t', 'habits', 'C-c');
    await waitForScreen((text) => text.includes('(press Ctrl-C again or type /exit to quit)'), 'the hint');
    tmux('send-keys', '-t', 'habits', 'C-c');
    const deadline = Date.now() + 5000;
    while (!existsSync(exitFile) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(readFileSync(exitFile, 'utf8')).toBe('130\n');
    const conversation = await logs(['-c']);
    expect(conversation.map((entry) => entry.prompt)).toEqual(["I'm Jeremy", "What's my name?"]);
  });
});

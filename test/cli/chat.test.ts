import { execFileSync, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { printToolLoop, type Terminal } from '../../src/cli/chat-session.ts';
import { Chat } from '../../src/client/chat.ts';
import { type CallOptions, Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { tool } from '../../src/client/tools.ts';
import { AbortError } from '../../src/protocol/errors.ts';
import type { Message } from '../../src/protocol/message.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';
import { NO_PACING } from '../../src/providers/simulated/provider.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { BASE_ENV, type CliRun, cliMain, repoRoot, runSluice } from '../helpers/cli.ts';

const root = repoRoot;
const main = cliMain;

/** Runs `sluice chat …` as a child process, stdin piped (`input`) or empty. */
function runChat(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return runSluice(['chat', ...args], options);
}

/** The same request made in-process: what the CLI must print. */
function expected(prompt: string, options: CallOptions = {}): Promise<Message> {
  return new Client('sim:default', { registry: unpacedRegistry() }).create(prompt, options);
}

const STATS_LINE = /^TTFT \d+ ms · \d+ tokens( · [\d.]+ tok\/s)? · [\d.]+ s\n$/;

function expectOneLineError(run: CliRun, pattern: RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^sluice: [^\n]+\n$/);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toContain('    at ');
}

// One CLI run at a time: concurrent runs beside the other test files ran at several times
// their own length on 2 cores, toward the 10 s exit limit.
describe('sluice chat with a prompt', () => {
  it('streams the exact answer to stdout, a final newline, and the figures on stderr without colour', async () => {
    const run = await runChat(['What', 'is', 'a', 'sluice?']);
    const message = await expected('What is a sluice?');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${textOf(message)}\n`);
    expect(run.stderr).toMatch(STATS_LINE);
    expect(run.stderr).toContain(`${message.usage.output_tokens} tokens`);
    expect(run.stderr.includes('\x1b')).toBe(false);
    expect(run.stderr.includes('\r')).toBe(false);
  });

  it('reads the prompt from piped stdin, without its final newline', async () => {
    const run = await runChat([], { input: "I'm Jeremy\n" });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${textOf(await expected("I'm Jeremy"))}\n`);
    expect(run.stderr).toMatch(STATS_LINE);
  });

  it('--json prints the final message as JSON instead of the text', async () => {
    const run = await runChat(['--json'], { input: 'What is a sluice?\n' });
    const message = await expected('What is a sluice?');
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as Message;
    expect(printed.content).toEqual(message.content);
    expect(printed.stop_reason).toBe('end_turn');
    expect(printed.usage).toEqual(message.usage);
    expect(run.stderr).toMatch(STATS_LINE);
  });

  it('--prefill starts the answer, and --system reaches the model', async () => {
    const prefill = 'According to Douglas Adams,';
    const [prefilled, withSystem] = await Promise.all([
      runChat(['--prefill', prefill, 'What is the answer?']),
      runChat(['--system', 'Answer like a pirate.', 'Hello']),
    ]);
    expect(prefilled.stdout.startsWith(`${prefill} `)).toBe(true);
    expect(prefilled.stdout).toBe(`${textOf(await expected('What is the answer?', { prefill }))}\n`);
    expect(withSystem.stdout).toBe(
      `${textOf(await expected('Hello', { system: 'Answer like a pirate.' }))}\n`,
    );
    expect(withSystem.stdout).not.toBe(`${textOf(await expected('Hello'))}\n`);
  });

  it('--max-tokens cuts the answer with stop_reason max_tokens; --temperature is accepted', async () => {
    const run = await runChat([
      '--json',
      '--max-tokens',
      '5',
      '--temperature',
      '0.2',
      'Tell me about rivers.',
    ]);
    expect(run.code).toBe(0);
    const message = JSON.parse(run.stdout) as Message;
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(5);
  });

  it('a missing Anthropic key is one line naming ANTHROPIC_API_KEY, exit 1, no stack', async () => {
    expectOneLineError(await runChat(['--model', 'anthropic:claude-sonnet-4-5', 'Hi']), /ANTHROPIC_API_KEY/);
  });

  it('an unknown provider is one line, exit 1', async () => {
    expectOneLineError(await runChat(['--model', 'nope:x', 'Hi']), /Unknown provider 'nope'/);
  });

  it('usage mistakes exit 2 naming the option; an empty stdin is one line and the usage', async () => {
    const [badNumber, badTemperature, empty] = await Promise.all([
      runChat(['--max-tokens', 'abc', 'Hi']),
      runChat(['--temperature', '1.5', 'Hi']),
      runChat([], { input: '\n' }),
    ]);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toMatch(/--max-tokens.*'abc'/);
    expect(badTemperature.code).toBe(2);
    expect(badTemperature.stderr).toMatch(/--temperature takes a number from 0 to 1/);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe(
      "sluice: No prompt: stdin was empty. Give the prompt as an argument or pipe it in.\nUsage: sluice chat [options] [prompt...]\nSee 'sluice chat --help'.\n",
    );
  });
});

describe('sluice chat against an upstream that drops the connection', () => {
  let simulator: Simulator;
  beforeAll(async () => {
    simulator = await Simulator.start({ pacing: NO_PACING, faults: [{ dropAfterBytes: 800 }, {}] });
  });
  afterAll(async () => {
    await simulator.close();
  });

  it('prints the whole answer exactly once and reports the resume on the stats line', async () => {
    const run = await runChat(['What is a sluice?'], {
      env: {
        SLUICE_MODEL: 'anthropic:default',
        ANTHROPIC_API_KEY: 'sk-test',
        ANTHROPIC_BASE_URL: simulator.url,
      },
    });
    expect(run.code).toBe(0);
    expect(simulator.requests).toHaveLength(2);
    expect(run.stdout).toBe(`${textOf(await expected('What is a sluice?'))}\n`);
    expect(run.stderr).toMatch(/ · 1 retry \(resume after connection\)\n$/);
  });
});

/** A terminal of two in-memory streams, as a pipe (no TTY): no spinner, no colour. */
function captureTerminal(): Terminal & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const read = (stream: PassThrough) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    return () => Buffer.concat(chunks).toString('utf8');
  };
  return { stdout, stderr, out: read(stdout), err: read(stderr) };
}

describe("printToolLoop renders the chat's tool loop", () => {
  const sums = tool({
    name: 'sums',
    input: z.object({ a: z.number(), b: z.number() }),
    run: ({ a, b }) => a + b,
  });
  const simChat = () =>
    new Chat({ client: new Client('sim:default', { registry: unpacedRegistry() }), tools: [sums] });
  const question = 'What is 604542+6458932?';

  it("each step's text on stdout, each tool call one line on stderr between them", async () => {
    const terminal = captureTerminal();
    const chat = simChat();
    const final = await printToolLoop(chat, question, terminal);
    const reference = simChat();
    const steps: Message[] = [];
    await reference.toolLoop(question, { onStep: ({ message }) => void steps.push(message) });
    expect(terminal.out()).toBe(steps.map((message) => `${textOf(message)}\n`).join(''));
    const lines = terminal.err().split('\n');
    expect(`${lines[0]}\n`).toMatch(STATS_LINE);
    expect(lines[1]).toBe('→ sums {"a":604542,"b":6458932} = 7063474');
    expect(`${lines[2]}\n`).toMatch(STATS_LINE);
    expect(textOf(final)).toContain('7063474');
    expect(chat.history).toEqual(reference.history);
  });

  it('a stopped loop leaves the history as it was, without the CLI undoing anything', async () => {
    const terminal = captureTerminal();
    const chat = simChat();
    await chat('Hi');
    const before = structuredClone(chat.history);
    const controller = new AbortController();
    // Stopped as the second step's answer starts: the first step's tool call was printed.
    terminal.stderr.on('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('→ sums')) controller.abort();
    });
    await expect(
      printToolLoop(chat, question, terminal, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(terminal.err()).toContain('→ sums {"a":604542,"b":6458932} = 7063474\n');
    expect(chat.history).toEqual(before);
  });
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe.skipIf(!hasTmux)('sluice chat in a terminal (tmux)', () => {
  // A server of our own: nothing of the user's tmux is touched, and it all goes at the end.
  const socket = `sluice-chat-test-${process.pid}`;
  const session = 'chat';
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const alive = () => spawnSync('tmux', ['-L', socket, 'has-session', '-t', session]).status === 0;
  // The whole scrollback, wrapped lines joined, without colours (and without trailing spaces:
  // an empty prompt reads '>').
  const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', session);
  const type = (text: string) => tmux('send-keys', '-t', session, '-l', text);
  const press = (...keys: string[]) => tmux('send-keys', '-t', session, ...keys);

  /** Polls the screen until `ready` holds for the text after the last `marker`. */
  async function waitFor(marker: string, ready: (after: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 8000;
    let after = '';
    while (Date.now() < deadline) {
      const text = screen();
      const at = text.lastIndexOf(marker);
      after = at < 0 ? '' : text.slice(at + marker.length);
      if (at >= 0 && ready(after)) return after;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`Timed out waiting for ${what}; the screen after '${marker}':\n${after}`);
  }

  /** Sends a line and waits for its answer's stats line and the next prompt. */
  async function ask(line: string): Promise<string> {
    type(line);
    press('Enter');
    const after = await waitFor(
      `> ${line}\n`,
      (text) => /\nTTFT [^\n]*\n>$/.test(text.trimEnd()),
      'an answer',
    );
    return after.slice(0, after.indexOf('\nTTFT '));
  }

  beforeAll(() => {
    // Some pacing, so that a spinner can be seen and Ctrl-C lands in the middle of an answer.
    const env = { ...BASE_ENV, SLUICE_SIM_TTFT_MS: '300', SLUICE_SIM_TPS: '100' };
    const command = `'${process.execPath}' '${main}' chat`;
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '120',
      '-y',
      '40',
      '-c',
      root,
      ...Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
      command,
    );
  });
  afterAll(() => {
    spawnSync('tmux', ['-L', socket, 'kill-server']);
  });

  it('shows a spinner until the first token, then keeps the history', async () => {
    await waitFor('Ctrl-C stops an answer\n', (text) => text.startsWith('>'), 'the prompt');
    type("I'm Jeremy");
    press('Enter');
    const spinner = await waitFor("> I'm Jeremy\n", (text) => /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|Jeremy/.test(text), 'a spinner');
    expect(spinner).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s*$/);
    const first = await waitFor("> I'm Jeremy\n", (text) => text.includes('\nTTFT '), 'the first answer');
    // Cleared before the text: the answer starts the line.
    expect(first).toMatch(/^Nice to meet you, Jeremy\./);
    expect(await ask("What's my name?")).toContain('Your name is Jeremy');
  });

  it('/usage shows tokens and cost; /reset forgets the conversation', async () => {
    type('/usage');
    press('Enter');
    const usage = await waitFor('> /usage\n', (text) => text.includes('Cost:'), 'the usage');
    expect(usage).toMatch(/^In: \d+; Out: \d+; Cache: 0 read, 0 written; Total: \d+; Cost: \$0\.0000\n/);
    type('/reset');
    press('Enter');
    await waitFor('> /reset\n', (text) => text.startsWith('History cleared.\n>'), 'History cleared.');
    const answer = await ask("What's my name?");
    expect(answer).not.toContain('Jeremy');
  });

  it('Ctrl-C stops the answer being written, keeps its text, and the session goes on', async () => {
    const prompt = 'Write a long essay on rivers, in detail.';
    type(prompt);
    press('Enter');
    const partial = await waitFor(`> ${prompt}\n`, (text) => text.trim().length > 40, 'the answer to start');
    press('C-c');
    const after = await waitFor(
      `> ${prompt}\n`,
      (text) => /\(stopped\)\n>$/.test(text.trimEnd()),
      '(stopped)',
    );
    expect(after.startsWith(partial.trim())).toBe(true);
    expect(after).not.toContain('TTFT');
    expect(alive()).toBe(true);
    type('/usage');
    press('Enter');
    await waitFor('> /usage\n', (text) => text.includes('Cost:'), 'the usage after a stop');
  });

  it('Ctrl-C at an empty prompt asks for a second one; /exit ends the session', async () => {
    press('C-c');
    await waitFor(
      '> /usage\n',
      (text) => text.includes('(press Ctrl-C again or type /exit to quit)\n>'),
      'the hint',
    );
    expect(alive()).toBe(true);
    type('/exit');
    press('Enter');
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(alive()).toBe(false);
  });
});

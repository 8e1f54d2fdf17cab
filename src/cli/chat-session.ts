import { createInterface, type Interface } from 'node:readline/promises';
import type { Writable } from 'node:stream';
import type { Chat, Prompt } from '../client/chat.ts';
import type { ToolResultBlock, ToolUseBlock } from '../protocol/content.ts';
import type { Message } from '../protocol/message.ts';
import type { MessageStream, RetryInfo } from '../stream/message-stream.ts';
import { TextPrinter } from '../stream/print.ts';
import { INTERRUPTED_EXIT_CODE } from './options.ts';
import { startSpinner } from './spinner.ts';
import { dim, statsLine, useColor } from './stats-line.ts';

/** Where a chat is shown: the answer on `stdout`, spinner and figures on `stderr`. */
export interface Terminal {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

export interface AnswerOptions {
  /** Print the final message as JSON instead of streaming its text. */
  json?: boolean;
}

/**
 * Shows one answer: a spinner on a terminal until the first token, the text with exactly
 * the characters streamed (and a final newline), then the figures on stderr. On failure
 * the partial text stays printed, ended by a newline, and the error is rethrown.
 * Call it in the same tick the stream was created: the text is read as it streams.
 */
export function printAnswer(
  stream: MessageStream,
  terminal: Terminal,
  options: AnswerOptions = {},
): Promise<Message> {
  return showAnswer(stream, terminal, options.json ? 'json' : 'text');
}

/** `quiet`: only the spinner and the figures, for the steps before the last of a `--json` tool loop. */
type Show = 'text' | 'json' | 'quiet';

async function showAnswer(stream: MessageStream, terminal: Terminal, show: Show): Promise<Message> {
  const retries: RetryInfo[] = [];
  stream.on('retry', (info) => retries.push(info));
  const spinner = startSpinner(terminal.stderr);
  let message: Message;
  try {
    if (show !== 'text') {
      // Nothing is shown until the message is whole, so the spinner stays until then.
      message = await stream.finalMessage();
    } else {
      // Listeners run before readers get the delta: the spinner is gone before the first character.
      for (const name of ['text', 'thinking', 'inputJson'] as const) stream.on(name, () => spinner.stop());
      message = await printText(stream, terminal.stdout);
    }
  } finally {
    spinner.stop();
  }
  if (show === 'json') printJson(message, terminal);
  terminal.stderr.write(`${dim(statsLine(stream, retries), useColor(terminal.stderr))}\n`);
  return message;
}

function printJson(message: Message, terminal: Terminal): void {
  terminal.stdout.write(`${JSON.stringify(message, null, 2)}\n`);
}

async function printText(stream: MessageStream, out: Writable): Promise<Message> {
  const printer = new TextPrinter(out);
  try {
    for await (const delta of stream.textStream) {
      const backpressure = printer.write(delta);
      if (backpressure) await backpressure;
    }
  } finally {
    await printer.end();
    // The next prompt, the figures or an error line must start on a line of their own.
    if (printer.text !== '' && !printer.text.endsWith('\n')) out.write('\n');
  }
  return stream.finalMessage();
}

export interface ToolAnswerOptions extends AnswerOptions {
  /** For the first step only: the steps after it continue from tool results. */
  prefill?: string;
  /** Stops the answer and the tools it is running. */
  signal?: AbortSignal;
  /** As in `Chat.streamToolLoop`, whose default applies when this is not given. */
  maxSteps?: number;
}

// A tool call is one line on stderr: enough to follow what happened, not the whole result.
const MAX_INPUT_SHOWN = 120;
const MAX_RESULT_SHOWN = 160;

/**
 * Renders `chat.streamToolLoop`: each step's text streams as `printAnswer` shows it, and each
 * tool call is one dim line on stderr, `→ get-sum {"a":2,"b":3} = The sum of 2 and 3 is 5.`.
 * With `json`, only the final message is printed. The loop, its stop rule and the rollback
 * of the history on failure are the chat's. Resolves with the final message.
 */
export async function printToolLoop(
  chat: Chat,
  prompt: Prompt,
  terminal: Terminal,
  options: ToolAnswerOptions = {},
): Promise<Message> {
  const loop = chat.streamToolLoop(prompt, {
    signal: options.signal,
    prefill: options.prefill,
    maxSteps: options.maxSteps,
  });
  let final: Message | undefined;
  for await (const step of loop) {
    const message = await showAnswer(step.stream, terminal, options.json ? 'quiet' : 'text');
    const { toolResults } = await withSpinner(terminal, step.result());
    const color = useColor(terminal.stderr);
    const calls = message.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
    for (const call of calls) {
      const result = toolResults.find((candidate) => candidate.tool_use_id === call.id);
      terminal.stderr.write(`${dim(toolCallLine(call, result), color)}\n`);
    }
    final = message;
  }
  // A loop that returned has run at least one step.
  if (options.json) printJson(final!, terminal);
  return final!;
}

/** A spinner on stderr while `work` runs: the tools of a step, which print nothing themselves. */
async function withSpinner<T>(terminal: Terminal, work: Promise<T>): Promise<T> {
  const spinner = startSpinner(terminal.stderr);
  try {
    return await work;
  } finally {
    spinner.stop();
  }
}

/** `→ get-sum {"a":2,"b":3} = The sum of 2 and 3 is 5.`, or `… failed: reason`, shortened to one line. */
export function toolCallLine(call: ToolUseBlock, result: ToolResultBlock | undefined): string {
  const input = shorten(JSON.stringify(call.input ?? {}), MAX_INPUT_SHOWN);
  const outcome = result?.is_error ? 'failed:' : '=';
  return `→ ${call.name} ${input} ${outcome} ${shorten(resultText(result), MAX_RESULT_SHOWN)}`;
}

function resultText(result: ToolResultBlock | undefined): string {
  const content = result?.content ?? '';
  if (typeof content === 'string') return content;
  return content.map((part) => (part.type === 'text' ? part.text : `[${part.type}]`)).join(' ');
}

function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** An error as one line for people: no stack, no line breaks. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ');
}

export interface SessionOptions extends AnswerOptions {
  prefill?: string;
  /** Shown dim at the start, e.g. the model. */
  banner?: string;
}

type Input = { type: 'line'; text: string } | { type: 'interrupt'; lineWasEmpty: boolean } | { type: 'end' };

/** What the user does at the prompt, in order, as a queue the session awaits. */
class Inputs {
  private readonly queue: Input[] = [];
  private waiting: ((input: Input) => void) | undefined;

  push(input: Input): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(input);
    else this.queue.push(input);
  }

  next(): Promise<Input> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}

const HELP =
  'Commands: /reset forgets the conversation, /usage shows tokens and cost, /exit quits (or Ctrl-D).';
const QUIT_HINT = '(press Ctrl-C again or type /exit to quit)';

/**
 * An interactive chat on a terminal: each line is sent with the history kept, and its
 * answer streamed. Ctrl-C stops the answer being written, not the program; at an empty
 * prompt it quits when pressed twice in a row. Resolves when the user quits.
 */
export function runSession(chat: Chat, terminal: Terminal, options: SessionOptions = {}): Promise<void> {
  return new Session(chat, terminal, options).run();
}

class Session {
  private readonly chat: Chat;
  private readonly terminal: Terminal;
  private readonly options: SessionOptions;
  private readonly rl: Interface;
  private readonly inputs = new Inputs();
  /** Stops the answer being written (and the tools it runs): Ctrl-C. */
  private answering: AbortController | undefined;
  private quitHintShown = false;

  constructor(chat: Chat, terminal: Terminal, options: SessionOptions) {
    this.chat = chat;
    this.terminal = terminal;
    this.options = options;
    // A terminal in raw mode: Ctrl-C reaches us as a key, not as a signal that ends the process.
    this.rl = createInterface({ input: process.stdin, output: terminal.stdout, terminal: true });
    this.rl.setPrompt('> ');
    this.rl.on('line', (text) => {
      // A line typed while an answer streams is dropped: it was not a reply to that answer.
      if (!this.answering) this.inputs.push({ type: 'line', text });
    });
    this.rl.on('SIGINT', () => this.interrupt());
    this.rl.on('close', () => this.inputs.push({ type: 'end' }));
  }

  async run(): Promise<void> {
    if (this.options.banner) {
      this.terminal.stderr.write(`${dim(this.options.banner, useColor(this.terminal.stderr))}\n`);
    }
    this.rl.prompt();
    for (;;) {
      const input = await this.inputs.next();
      if (!(await this.handle(input))) break;
      this.rl.prompt();
    }
    this.rl.close();
  }

  /** Returns false to quit. */
  private async handle(input: Input): Promise<boolean> {
    switch (input.type) {
      case 'line':
        return this.line(input.text);
      case 'interrupt':
        return this.idleInterrupt(input.lineWasEmpty);
      case 'end':
        // Ctrl-D left the cursor after the prompt: the shell's prompt must start on a line of its own.
        this.terminal.stdout.write('\n');
        return false;
    }
  }

  private interrupt(): void {
    if (this.answering) {
      this.answering.abort('Stopped with Ctrl-C.');
      return;
    }
    const lineWasEmpty = this.rl.line === '';
    if (!lineWasEmpty) clearLine(this.rl);
    this.inputs.push({ type: 'interrupt', lineWasEmpty });
  }

  /** Ctrl-C at the prompt: the line was cleared; on an empty one, warns once, then quits. */
  private idleInterrupt(lineWasEmpty: boolean): boolean {
    const quit = lineWasEmpty && this.quitHintShown;
    if (lineWasEmpty) this.terminal.stdout.write(quit ? '\n' : `\n${QUIT_HINT}\n`);
    // Quitting with Ctrl-C ends the command as Ctrl-C does everywhere in the CLI: 130.
    if (quit) process.exitCode = INTERRUPTED_EXIT_CODE;
    this.quitHintShown = lineWasEmpty;
    return !quit;
  }

  /** A line typed at the prompt: a command or a question. */
  private async line(line: string): Promise<boolean> {
    this.quitHintShown = false;
    const text = line.trim();
    if (text === '/exit' || text === '/quit') return false;
    if (text.startsWith('/')) this.terminal.stdout.write(`${runCommand(this.chat, text)}\n`);
    else if (text !== '') await this.ask(text);
    return true;
  }

  /**
   * Streams one answer, running the chat's tools if it has any; a failure is reported and
   * the session goes on. A stopped or failed answer leaves the history as it was.
   */
  private async ask(text: string): Promise<void> {
    const controller = new AbortController();
    this.answering = controller;
    try {
      if (this.chat.tools.length > 0) {
        await printToolLoop(this.chat, text, this.terminal, { ...this.options, signal: controller.signal });
      } else {
        const stream = this.chat.stream(text, { prefill: this.options.prefill, signal: controller.signal });
        await printAnswer(stream, this.terminal, this.options);
      }
    } catch (error) {
      // The chat has put its history back as it was before the question.
      const color = useColor(this.terminal.stderr);
      const line = controller.signal.aborted ? dim('(stopped)', color) : `sluice: ${errorLine(error)}`;
      this.terminal.stderr.write(`${line}\n`);
    } finally {
      this.answering = undefined;
    }
  }
}

function runCommand(chat: Chat, command: string): string {
  switch (command) {
    case '/reset':
      chat.reset();
      return 'History cleared.';
    case '/usage':
      return usageLine(chat);
    case '/help':
      return HELP;
    default:
      return `Unknown command ${command}. ${HELP}`;
  }
}

/** `In: 8; Out: 29; Cache: 0 read, 0 written; Total: 37; Cost: $0.0005`. */
export function usageLine(chat: Chat): string {
  const usage = chat.usage;
  const unpriced =
    usage.unpricedCalls > 0 ? ` (${usage.unpricedCalls} calls of a model without a price)` : '';
  return `${usage}; Cost: $${usage.cost.toFixed(4)}${unpriced}`;
}

/** Empties the line being typed, as Ctrl-E then Ctrl-U would. */
function clearLine(rl: Interface): void {
  rl.write(null, { ctrl: true, name: 'e' });
  rl.write(null, { ctrl: true, name: 'u' });
}

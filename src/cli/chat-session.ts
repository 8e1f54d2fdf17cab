import { createInterface, type Interface } from 'node:readline/promises';
import type { Writable } from 'node:stream';
import type { Chat } from '../client/chat.ts';
import type { Message } from '../protocol/message.ts';
import type { MessageStream, RetryInfo } from '../stream/message-stream.ts';
import { TextPrinter } from '../stream/print.ts';
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
export async function printAnswer(
  stream: MessageStream,
  terminal: Terminal,
  options: AnswerOptions = {},
): Promise<Message> {
  const retries: RetryInfo[] = [];
  stream.on('retry', (info) => retries.push(info));
  const spinner = startSpinner(terminal.stderr);
  let message: Message;
  try {
    if (options.json) {
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
  if (options.json) terminal.stdout.write(`${JSON.stringify(message, null, 2)}\n`);
  terminal.stderr.write(`${dim(statsLine(stream, retries), useColor(terminal.stderr))}\n`);
  return message;
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
  /** The answer being written, which Ctrl-C stops. */
  private answering: MessageStream | undefined;
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
   * Streams one answer; a failure is reported and the session goes on. A stopped or failed
   * answer leaves the history as it was (Chat takes the unanswered question back out).
   */
  private async ask(text: string): Promise<void> {
    const stream = this.chat.stream(text, { prefill: this.options.prefill });
    this.answering = stream;
    try {
      await printAnswer(stream, this.terminal, this.options);
    } catch (error) {
      const color = useColor(this.terminal.stderr);
      const line = stream.aborted ? dim('(stopped)', color) : `sluice: ${errorLine(error)}`;
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

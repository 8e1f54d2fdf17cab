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
 * prompt it quits when pressed twice in a row.
 *
 * A stopped or failed answer is dropped from the history together with its question: the
 * model never sees half an answer, and the next question does not follow an unanswered one
 * (Chat would otherwise have the model answer that one first).
 */
export async function runSession(
  chat: Chat,
  terminal: Terminal,
  options: SessionOptions = {},
): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: terminal.stdout, terminal: true });
  rl.setPrompt('> ');
  const inputs = new Inputs();
  let answering: MessageStream | undefined;
  // A line typed while an answer streams is dropped: it was not a reply to that answer.
  rl.on('line', (text) => {
    if (!answering) inputs.push({ type: 'line', text });
  });
  rl.on('SIGINT', () => {
    if (answering) {
      answering.abort('Stopped with Ctrl-C.');
      return;
    }
    const lineWasEmpty = rl.line === '';
    if (!lineWasEmpty) clearLine(rl);
    inputs.push({ type: 'interrupt', lineWasEmpty });
  });
  rl.on('close', () => inputs.push({ type: 'end' }));

  const color = useColor(terminal.stderr);
  if (options.banner) terminal.stderr.write(`${dim(options.banner, color)}\n`);
  let quitHintShown = false;
  rl.prompt();
  for (;;) {
    const input = await inputs.next();
    if (input.type === 'end') break;
    if (input.type === 'interrupt') {
      if (input.lineWasEmpty && quitHintShown) break;
      if (input.lineWasEmpty) terminal.stdout.write(`\n${QUIT_HINT}\n`);
      quitHintShown = input.lineWasEmpty;
      rl.prompt();
      continue;
    }
    quitHintShown = false;
    const text = input.text.trim();
    if (text === '/exit' || text === '/quit') {
      rl.close();
      return;
    }
    if (text.startsWith('/')) terminal.stdout.write(`${runCommand(chat, text)}\n`);
    else if (text !== '') {
      const stream = chat.stream(text, { prefill: options.prefill });
      answering = stream;
      await answer(chat, stream, terminal, options);
      answering = undefined;
    }
    rl.prompt();
  }
  // Ctrl-D or Ctrl-C left the cursor after the prompt: the shell's prompt starts on a new line.
  terminal.stdout.write('\n');
  rl.close();
}

/** Streams one answer of the session; a failure is reported and the session goes on. */
async function answer(
  chat: Chat,
  stream: MessageStream,
  terminal: Terminal,
  options: SessionOptions,
): Promise<void> {
  // The history before the question was added (it is added when the stream starts).
  const historyLength = chat.history.length;
  try {
    await printAnswer(stream, terminal, options);
  } catch (error) {
    chat.history.splice(historyLength);
    const line = stream.aborted ? dim('(stopped)', useColor(terminal.stderr)) : `sluice: ${errorLine(error)}`;
    terminal.stderr.write(`${line}\n`);
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

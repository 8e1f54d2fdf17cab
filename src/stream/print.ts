import type { Writable } from 'node:stream';
import { writableReady } from './writable.ts';

/** Options of `printTextStream`: whole lines at a time, or as streamed. */
export interface PrintOptions {
  /** Write whole lines only (the rest at the end): for output read line by line, such as logs. */
  lineBuffered?: boolean;
}

/** Writes text deltas to a terminal or stream with exactly the characters streamed. */
export class TextPrinter {
  private readonly out: Writable;
  private readonly lineBuffered: boolean;
  private pending = '';
  private written = '';
  private unflushed = 0;
  private flushWaiters: Array<() => void> = [];

  constructor(out: Writable, options: PrintOptions = {}) {
    this.out = out;
    this.lineBuffered = options.lineBuffered ?? false;
  }

  /** Everything written so far. */
  get text(): string {
    return this.written;
  }

  /** Writes a delta; the promise resolves when the stream can take more (backpressure). */
  write(delta: string): Promise<void> | undefined {
    const text = this.pending + delta;
    // A high surrogate whose low half is in the next delta would be written as U+FFFD: hold it.
    let cut = endsWithHighSurrogate(text) ? text.length - 1 : text.length;
    if (this.lineBuffered) cut = text.lastIndexOf('\n', cut - 1) + 1;
    this.pending = text.slice(cut);
    return this.emit(text.slice(0, cut));
  }

  /**
   * Writes whatever is held back and resolves once every write has been handed to the
   * destination. Call it on success, error and abort alike: nothing is lost.
   */
  async end(): Promise<void> {
    const rest = this.pending;
    this.pending = '';
    await this.emit(rest);
    if (this.unflushed === 0 || this.out.destroyed) return;
    await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
  }

  private emit(text: string): Promise<void> | undefined {
    if (text === '') return undefined;
    this.written += text;
    this.unflushed++;
    const accepted = this.out.write(text, () => this.flushed());
    if (accepted) return undefined;
    return writableReady(this.out);
  }

  private flushed(): void {
    this.unflushed--;
    if (this.unflushed > 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function endsWithHighSurrogate(text: string): boolean {
  const code = text.charCodeAt(text.length - 1);
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Prints a text stream as it arrives and returns the text printed. What was held back is
 * written even when the stream fails, before the error is rethrown.
 */
export async function printTextStream(
  text: AsyncIterable<string>,
  out: Writable = process.stdout,
  options: PrintOptions = {},
): Promise<string> {
  const printer = new TextPrinter(out, options);
  try {
    for await (const delta of text) {
      const backpressure = printer.write(delta);
      if (backpressure) await backpressure;
    }
  } finally {
    await printer.end();
  }
  return printer.text;
}

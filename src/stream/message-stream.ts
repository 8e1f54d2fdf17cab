import { type Citation, type ContentBlock, isBlock } from '../protocol/content.ts';
import { AbortError, errorFromEvent, SluiceError } from '../protocol/errors.ts';
import {
  type ContentBlockDeltaEvent,
  isDelta,
  isEvent,
  isKnownDelta,
  type StreamEvent,
  unreachable,
} from '../protocol/events.ts';
import { errorFromHttp } from '../protocol/http-errors.ts';
import type { Message } from '../protocol/message.ts';
import { MessageAssembler } from './assemble.ts';
import { batched, batchesOf } from './batches.ts';
import type { ByteSource } from './byte-batches.ts';
import { sseStreamEvents } from './decode-events.ts';
import { replayEvents } from './replay-events.ts';
import { Subscriber } from './subscriber.ts';
import { errorFromTransport } from './transport-error.ts';

/** A retry or resume performed underneath the stream (reported by the resilience layer). */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  /** What went wrong: an error type, `connection`, `idle_timeout`, … */
  reason: string;
  delayMs: number;
  /**
   * `retry`: nothing had arrived yet; `resume`: continued by prefill; `restart`: asked again and
   * skipped what was delivered; `reattach`: picked up a Sluice gateway's durable stream where it
   * broke off (no new model call, no tokens).
   */
  mode: 'retry' | 'resume' | 'restart' | 'reattach';
  error?: SluiceError;
}

/** When a stream's request started, and when its first event, first token and end came. */
export interface StreamTiming {
  /** `performance.now()` when the request started. */
  startedAt: number;
  firstEventAt?: number;
  /** First text, thinking or tool-input delta. */
  firstTokenAt?: number;
  endedAt?: number;
}

/** The events `MessageStream.on` takes, with each listener's arguments. */
export interface MessageStreamListeners {
  event: (event: StreamEvent, snapshot: Message) => void;
  text: (delta: string, snapshot: string) => void;
  inputJson: (delta: string, partialInput: unknown) => void;
  thinking: (delta: string, snapshot: string) => void;
  signature: (signature: string) => void;
  citation: (citation: Citation, citations: Citation[]) => void;
  contentBlock: (block: ContentBlock) => void;
  message: (message: Message) => void;
  retry: (info: RetryInfo) => void;
  error: (error: SluiceError) => void;
  abort: (error: AbortError) => void;
  end: () => void;
}
type ListenerName = keyof MessageStreamListeners;
type Emit = <K extends ListenerName>(name: K, ...args: Parameters<MessageStreamListeners[K]>) => void;

/** The deltas whose arrival is the first token, for time to first token. */
const TOKEN_DELTAS = new Set(['text_delta', 'thinking_delta', 'input_json_delta']);

/** What a stream's source gets: the signal to stop on and a way to report retries. */
export interface SourceContext {
  signal: AbortSignal;
  reportRetry: (info: RetryInfo) => void;
}
export type EventSourceFactory = (context: SourceContext) => AsyncIterable<StreamEvent>;

/** A `MessageStream`'s abort signal, and the request's start time for time to first token. */
export interface MessageStreamOptions {
  /** Aborting it aborts the stream (and the upstream request) at once. */
  signal?: AbortSignal;
  /** `performance.now()` of the request start, for time-to-first-token. */
  startedAt?: number;
}

// A reader may fall this many events behind (plus one network chunk's worth) before the
// stream stops reading upstream.
const HIGH_WATER_MARK = 32;

/** Adds a drain promise for each reader that fell `HIGH_WATER_MARK` events behind. */
function laggingReaders<T>(readers: Set<Subscriber<T>>, behind: Promise<void>[]): Promise<void>[] {
  for (const reader of readers) if (reader.backlog >= HIGH_WATER_MARK) behind.push(reader.drained());
  return behind;
}

type Outcome = { ok: true; message: Message } | { ok: false; error: unknown };

/**
 * One model response as it streams. Iterate it for events, iterate `textStream` for text,
 * listen with `on()`, or await `finalMessage()`; any mix, in any order, before or after the
 * start, from one pass over the upstream. A reader or listener that comes late gets every
 * event from the start: the stream keeps its events while it runs and only its message once
 * it has ended (a late comer then gets one delta per block). A slow attached reader holds
 * the upstream back rather than letting events pile up.
 */
export class MessageStream implements AsyncIterable<StreamEvent> {
  readonly timing: StreamTiming;
  private readonly sourceFactory: EventSourceFactory;
  private readonly controller = new AbortController();
  private readonly assembler = new MessageAssembler();
  private readonly listeners = new Map<ListenerName, Set<(...args: never[]) => void>>();
  private readonly eventSubscribers = new Set<Subscriber<StreamEvent>>();
  private readonly textSubscribers = new Set<Subscriber<string>>();
  /**
   * Every event so far, for readers and listeners that come after the start; released when
   * the stream ends (later comers get `replayEvents` of the message instead).
   */
  private log: StreamEvent[] | undefined = [];
  private readonly emitBound: Emit = (name, ...args) => this.emit(name, ...args);
  private started = false;
  private outcome: Outcome | undefined;
  private readonly settled: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;
  private abortReason: AbortError | undefined;
  /** Detaches from the caller's signal: a long-lived signal must not keep finished streams alive. */
  private detachExternalSignal: () => void = () => {};

  constructor(source: EventSourceFactory, options: MessageStreamOptions = {}) {
    this.sourceFactory = source;
    this.timing = { startedAt: options.startedAt ?? performance.now() };
    this.settled = new Promise((resolve) => {
      this.settle = resolve;
    });
    const external = options.signal;
    if (external?.aborted) this.abort(external.reason);
    else if (external) {
      const onAbort = () => this.abort(external.reason);
      external.addEventListener('abort', onAbort, { once: true });
      this.detachExternalSignal = () => external.removeEventListener('abort', onAbort);
    }
  }

  /** A stream over SSE bytes (any chunking). */
  static fromSSE(bytes: ByteSource, options?: MessageStreamOptions): MessageStream {
    return new MessageStream(({ signal }) => sseStreamEvents(bytes, signal), options);
  }

  /** A stream over a fetch `Response`; a failed status becomes the matching typed error. */
  static fromResponse(response: Response, options?: MessageStreamOptions): MessageStream {
    return new MessageStream(
      ({ signal }) =>
        batched(async function* () {
          if (!response.ok) {
            const body = await response.text().catch(() => '');
            throw errorFromHttp(response.status, response.headers, body);
          }
          if (response.body === null) return;
          yield* batchesOf(sseStreamEvents(response.body, signal));
        }),
      options,
    );
  }

  /** The message as assembled so far (live; do not mutate). */
  get currentMessage(): Message | undefined {
    return this.assembler.message;
  }

  /** Whether the caller aborted the stream. */
  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** The signal that fires when this stream is aborted, for work tied to its lifetime. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  on<K extends ListenerName>(name: K, listener: MessageStreamListeners[K]): this {
    this.observe(name, listener);
    // A stream with listeners only still has to run.
    queueMicrotask(() => this.start());
    return this;
  }

  /**
   * Listens without starting the stream: for code that wraps a stream for someone else to
   * consume (bookkeeping must not start a request the caller will iterate later).
   */
  observe<K extends ListenerName>(name: K, listener: MessageStreamListeners[K]): this {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    this.catchUp(name, listener);
    return this;
  }

  /**
   * Gives a listener attached after the start what it missed, at once: the events so far
   * (each with the snapshot it had then), and the end if the stream has ended.
   */
  private catchUp<K extends ListenerName>(name: K, listener: MessageStreamListeners[K]): void {
    if (!this.started) return;
    const call = listener as (...args: unknown[]) => void;
    const emitOne: Emit = (emitted, ...args) => {
      if ((emitted as ListenerName) === name) call(...args);
    };
    const assembler = new MessageAssembler();
    for (const event of this.eventsSoFar()) {
      assembler.apply(event);
      dispatch(event, assembler.message!, emitOne);
    }
    const outcome = this.outcome;
    if (!outcome) return;
    if (!outcome.ok && outcome.error instanceof AbortError) emitOne('abort', outcome.error);
    if (!outcome.ok && outcome.error instanceof SluiceError) emitOne('error', outcome.error);
    emitOne('end');
  }

  /** The events a reader attached now has missed: the log, or the message's replay once ended. */
  private eventsSoFar(): readonly StreamEvent[] {
    if (this.log) return this.log;
    const message = this.assembler.message;
    if (!message) return [];
    return replayEvents(message, this.outcome?.ok === true);
  }

  off<K extends ListenerName>(name: K, listener: MessageStreamListeners[K]): this {
    this.listeners.get(name)?.delete(listener);
    return this;
  }

  /** Stops the stream and the upstream request at once; `finalMessage()` rejects with `AbortError`. */
  abort(reason?: unknown): void {
    if (this.abortReason || this.outcome) return;
    this.abortReason =
      reason instanceof AbortError
        ? reason
        : new AbortError(typeof reason === 'string' ? reason : 'The stream was aborted by the caller.');
    this.controller.abort(this.abortReason);
    // A stream never started has no pump to report the abort.
    if (!this.started) {
      this.started = true;
      this.finishWith({ ok: false, error: this.abortReason });
    }
  }

  finalMessage(): Promise<Message> {
    this.start();
    return this.settled.then((outcome) => {
      if (outcome.ok) return outcome.message;
      throw outcome.error;
    });
  }

  /** The text of every text block, concatenated. */
  async finalText(): Promise<string> {
    const message = await this.finalMessage();
    let text = '';
    for (const block of message.content) if (isBlock(block, 'text')) text += block.text;
    return text;
  }

  /** Resolves when the stream has ended, however it ended; never rejects. */
  async done(): Promise<void> {
    this.start();
    await this.settled;
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    return this.subscribe(this.eventSubscribers, (event) => event);
  }

  /** The text deltas alone. */
  get textStream(): AsyncIterable<string> {
    return { [Symbol.asyncIterator]: () => this.subscribe(this.textSubscribers, textOf) };
  }

  private subscribe<T>(
    set: Set<Subscriber<T>>,
    pick: (event: StreamEvent) => T | undefined,
  ): AsyncIterator<T> {
    const subscriber = new Subscriber<T>(() => {
      set.delete(subscriber);
      // Leaving a loop early means the caller is done with this response.
      this.abort('The consumer stopped reading the stream.');
    });
    if (this.started) {
      // A late reader starts from the beginning, like one attached before the start.
      for (const event of this.eventsSoFar()) {
        const item = pick(event);
        if (item !== undefined) subscriber.push(item);
      }
      if (this.outcome) subscriber.close(this.outcome.ok ? undefined : { error: this.outcome.error });
      else set.add(subscriber);
      return subscriber;
    }
    set.add(subscriber);
    queueMicrotask(() => this.start());
    return subscriber;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    const signal = this.controller.signal;
    // Abort must end a wait even on a source that ignores its signal. A fresh promise per wait,
    // not one long-lived promise raced every time: each race would leave a reaction on it that
    // keeps that batch alive until the stream ends.
    let interrupt: ((reason: unknown) => void) | undefined;
    const onAbort = () => interrupt?.(this.abortReason ?? new AbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    let iterator: AsyncIterator<readonly StreamEvent[]> | undefined;
    try {
      const source = this.sourceFactory({ signal, reportRetry: (info) => this.emit('retry', info) });
      iterator = batchesOf(source)[Symbol.asyncIterator]();
      while (true) {
        if (signal.aborted) throw this.abortReason ?? new AbortError();
        const interrupted = new Promise<never>((_, reject) => {
          interrupt = reject;
        });
        const result = await Promise.race([iterator.next(), interrupted]);
        interrupt = undefined;
        if (result.done) break;
        for (const event of result.value) this.handle(event);
        const behind = laggingReaders(this.eventSubscribers, laggingReaders(this.textSubscribers, []));
        if (behind.length > 0) await Promise.all(behind);
      }
      if (this.abortReason) throw this.abortReason;
      this.finishWith({ ok: true, message: this.assembler.finish() });
    } catch (error) {
      // An abort wins over whatever the source threw on its way down.
      this.finishWith({ ok: false, error: this.abortReason ?? error });
      // Whatever failed, the upstream request must not outlive the stream.
      if (!signal.aborted) this.controller.abort(this.outcome?.ok === false ? this.outcome.error : undefined);
      if (iterator?.return) void Promise.resolve(iterator.return()).catch(() => {});
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Folds in one event and hands it to listeners and readers. */
  private handle(event: StreamEvent): void {
    this.timing.firstEventAt ??= performance.now();
    if (event.type === 'error') throw errorFromEvent(event);
    this.assembler.apply(event);
    this.log?.push(event);
    if (isEvent(event, 'content_block_delta')) {
      if (this.timing.firstTokenAt === undefined && TOKEN_DELTAS.has(event.delta.type))
        this.timing.firstTokenAt = performance.now();
      if (this.textSubscribers.size > 0 && isDelta(event.delta, 'text_delta'))
        for (const subscriber of this.textSubscribers) subscriber.push(event.delta.text);
    }
    dispatch(event, this.assembler.message!, this.emitBound);
    if (this.eventSubscribers.size > 0)
      for (const subscriber of this.eventSubscribers) subscriber.push(event);
  }

  private emit<K extends ListenerName>(name: K, ...args: Parameters<MessageStreamListeners[K]>): void {
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return;
    for (const listener of set) (listener as (...a: Parameters<MessageStreamListeners[K]>) => void)(...args);
  }

  private finishWith(outcome: Outcome): void {
    if (this.outcome) return;
    this.detachExternalSignal();
    this.timing.endedAt = performance.now();
    if (!outcome.ok) {
      const error = errorFromTransport(outcome.error);
      if (error instanceof SluiceError) error.partialMessage ??= this.assembler.partialMessage();
      outcome = { ok: false, error };
    }
    this.outcome = outcome;
    this.log = undefined;
    const subscriberError = outcome.ok ? undefined : { error: outcome.error };
    for (const subscriber of this.eventSubscribers) subscriber.close(subscriberError);
    for (const subscriber of this.textSubscribers) subscriber.close(subscriberError);
    this.settle(outcome);
    // Listener errors must not turn a settled stream into an unhandled rejection.
    try {
      if (!outcome.ok) {
        const error = outcome.error;
        if (error instanceof AbortError) this.emit('abort', error);
        if (error instanceof SluiceError) this.emit('error', error);
      }
      this.emit('end');
    } catch (listenerError) {
      queueMicrotask(() => {
        throw listenerError;
      });
    }
  }
}

/** The text of a text delta event, for `textStream`. */
function textOf(event: StreamEvent): string | undefined {
  return isEvent(event, 'content_block_delta') && isDelta(event.delta, 'text_delta')
    ? event.delta.text
    : undefined;
}

/** Calls one event's listeners through `emit`; `message` already has the event folded in. */
function dispatch(event: StreamEvent, message: Message, emit: Emit): void {
  if (isEvent(event, 'content_block_delta')) {
    dispatchDelta(event, message.content[event.index]!, emit);
  } else if (isEvent(event, 'content_block_stop')) {
    emit('contentBlock', message.content[event.index]!);
  } else if (isEvent(event, 'message_stop')) {
    emit('message', message);
  }
  emit('event', event, message);
}

/** The listeners of one delta; the assembler has applied it, so the block is of its kind. */
function dispatchDelta({ delta }: ContentBlockDeltaEvent, block: ContentBlock, emit: Emit): void {
  // Most deltas are text: one string compare for them, before the known/unknown lookup.
  if (isDelta(delta, 'text_delta')) {
    if (isBlock(block, 'text')) emit('text', delta.text, block.text);
    return;
  }
  if (!isKnownDelta(delta)) return;
  switch (delta.type) {
    case 'text_delta':
      if (isBlock(block, 'text')) emit('text', delta.text, block.text);
      return;
    case 'input_json_delta':
      // The block's input: `{}` until the first key arrives, like the live message shows.
      if (isBlock(block, 'tool_use') || isBlock(block, 'server_tool_use'))
        emit('inputJson', delta.partial_json, block.input);
      return;
    case 'thinking_delta':
      if (isBlock(block, 'thinking')) emit('thinking', delta.thinking, block.thinking);
      return;
    case 'signature_delta':
      emit('signature', delta.signature);
      return;
    case 'citations_delta':
      if (isBlock(block, 'text')) emit('citation', delta.citation, block.citations ?? []);
      return;
    default:
      unreachable(delta);
  }
}

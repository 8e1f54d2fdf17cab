import type { ErrorType } from '../../protocol/errors.ts';
import type { ErrorEvent, StreamEvent } from '../../protocol/events.ts';
import type { Message, Usage } from '../../protocol/message.ts';
import { MessageAssembler } from '../../stream/assemble.ts';
import { encodeBatch } from '../streams/entry.ts';
import { LeaseLostError, StreamNotFoundError } from '../streams/errors.ts';
import { LeaseKeeper } from '../streams/lease-keeper.ts';
import type { Lease, LogEntry, StreamAttempt, StreamLog } from '../streams/types.ts';

/** The error of a stream whose log failed mid-answer, for its readers. */
const PARTLY_LOGGED =
  'The stream log missed part of this answer (it was unreachable for a while), so it cannot be resumed: start a new request.';

/** Why a generation was aborted by its stream rather than by the shutdown. */
export class GenerationStopped extends Error {
  override name = 'GenerationStopped';
}

export interface ProducerHandlers {
  /** Told once when the log fails mid-stream: the live answer goes on unlogged. */
  warn(message: string): void;
  /** The producer is done (ended, failed, released): the instance forgets it. */
  onDone(producer: StreamProducer): void;
}

/**
 * Everything the instance producing a stream holds for it, in one object (a takeover or a
 * reattach builds the same): the lease and its keeper, the next event id, the generation's
 * abort controller, and the readers on this instance. The final message the log keeps comes
 * from the model call, which has assembled it already (`ModelCall.answer`); only a producer
 * whose events are its own (`/streaming_chat`'s text) assembles them here.
 *
 * Appends are pipelined: each batch's entry is handed to the log at once (the Redis store
 * sends the appends of one tick together), a relay waits for it (`logged`) before the client
 * gets the batch, and finish/fail follow the appends in order. A log that fails mid-stream is
 * dropped for this stream with one warning: a live answer never breaks because of its log.
 */
export class StreamProducer {
  readonly id: string;
  readonly lease: Lease;
  /** Aborts the model call: a cancel, a lost lease, the detach grace running out. */
  readonly generation = new AbortController();
  private readonly log: StreamLog;
  private readonly keeper: LeaseKeeper;
  private readonly handlers: ProducerHandlers;
  private readonly assembler: MessageAssembler | undefined;
  private readonly unsubscribeCancel: () => void;
  private next = 1;
  private logBroken = false;
  private done = false;
  private readers = 0;
  private detachTimer: NodeJS.Timeout | undefined;
  /** Told once when the producer is done (`whenDone`). */
  private doneListeners: (() => void)[] | undefined;
  /** The last append still in flight (a log across the network); undefined when none is. */
  private appended: Promise<unknown> | undefined;

  /**
   * `afterId`: a takeover's producer appends after the log's last id. `assemble`: the events
   * logged are the answer's only record (not a model call's), so the final message is built here.
   */
  constructor(
    log: StreamLog,
    lease: Lease,
    handlers: ProducerHandlers,
    options: { afterId?: number; assemble?: boolean } = {},
  ) {
    this.id = lease.streamId;
    this.next = (options.afterId ?? 0) + 1;
    this.assembler = options.assemble ? new MessageAssembler() : undefined;
    this.log = log;
    this.lease = lease;
    this.handlers = handlers;
    const stop = (why: string) => this.generation.abort(new GenerationStopped(why));
    this.keeper = new LeaseKeeper(log, lease, {
      onLost: () => stop('its lease passed to another instance'),
      onCancelRequested: () => stop('cancelled'),
    });
    this.unsubscribeCancel = log.onCancel(this.id, () => stop('cancelled'));
  }

  /** Calls `listener` once the producer is done (ended, failed, released); at once if it is. */
  whenDone(listener: () => void): void {
    if (this.done) {
      listener();
      return;
    }
    this.doneListeners ??= [];
    this.doneListeners.push(listener);
  }

  /** The id of the last event logged (0 before any). */
  get lastId(): number {
    return this.next - 1;
  }

  /** Logs a batch of events (ids continuing the stream's) and returns its SSE text for the client. */
  logBatch(events: readonly StreamEvent[]): LogEntry {
    const entry = encodeBatch(this.next, events);
    if (this.assembler) for (const event of events) if (event.type !== 'error') this.assembler.apply(event);
    this.append(entry);
    return entry;
  }

  /**
   * Logs events already in the log's SSE form, each without its blank line (a relay passing
   * the upstream's text through), numbered on from the stream's last id.
   */
  logTexts(texts: readonly string[]): LogEntry {
    const first = this.next;
    let id = first;
    let data = '';
    for (const text of texts) data += `id: ${id++}\n${text}\n\n`;
    const entry: LogEntry = { first, last: id - 1, data };
    this.append(entry);
    return entry;
  }

  private append(entry: LogEntry): void {
    this.next = entry.last + 1;
    if (this.logBroken) return;
    if (this.log.appendNow) {
      try {
        this.log.appendNow(this.lease, entry);
      } catch (error) {
        this.onLogError(error);
      }
      return;
    }
    const appended = this.log.append(this.lease, entry).then(() => {
      if (this.appended === appended) this.appended = undefined;
    }, this.onLogError);
    this.appended = appended;
  }

  /**
   * Resolves once every batch logged so far is in the log (or the log failed, and the answer
   * goes on unlogged); undefined when nothing is in flight (a log in memory never is). A relay
   * sends a batch to its client only then: whatever a client saw is what a resume replays and
   * what a takeover continues from, even if this instance dies the next moment. (Appends are
   * answered in order, so the last one stands for all.)
   */
  logged(): Promise<unknown> | undefined {
    return this.appended;
  }

  /** Records an upstream call after the first (a retry, a resume, a fallback) in the stream's status. */
  recordAttempt(attempt: StreamAttempt): void {
    if (!this.logBroken) this.log.recordAttempt(this.lease, attempt).catch(this.onLogError);
  }

  /** The answer is complete: the log gets its message (the model call's, or the one assembled here) and usage. */
  async finish(answer?: Message, usage?: Usage): Promise<void> {
    if (!this.end()) return;
    const message = answer ?? this.assembler?.partialMessage();
    // Without a message (a relay that passed the text through), the status assembles it from the log.
    await this.write(() => this.log.finish(this.lease, { message, usage: message?.usage ?? usage ?? null }));
  }

  /** The answer failed: its error event is logged (readers replay it), then the stream fails. */
  async fail(type: ErrorType, message: string): Promise<LogEntry> {
    const event: ErrorEvent = { type: 'error', error: { type, message } };
    const entry = this.logBatch([event]);
    if (this.end()) await this.write(() => this.log.fail(this.lease, { type, message }));
    return entry;
  }

  /** Gives the lease up without ending the stream (shutdown with a shared store): another instance may take it over. */
  async release(): Promise<void> {
    if (!this.end()) return;
    await this.write(() => this.log.releaseLease(this.lease));
  }

  /** DELETE on this instance: abort the model call now. */
  cancel(): void {
    this.generation.abort(new GenerationStopped('cancelled'));
  }

  /** A reader on this instance (the first client, or a resume) began reading. */
  attachReader(): void {
    this.readers++;
    clearTimeout(this.detachTimer);
    this.detachTimer = undefined;
  }

  /**
   * A reader left: with none left here, the generation runs on for `graceMs` after the last
   * read anywhere, then is aborted. Readers on other instances note their reading in the log
   * (`noteReader`): when the grace runs out, a read noted since pushes the end back.
   */
  detachReader(graceMs: number): void {
    this.readers = Math.max(0, this.readers - 1);
    if (this.readers > 0 || this.done || this.detachTimer) return;
    this.armDetach(graceMs, graceMs);
  }

  private armDetach(graceMs: number, waitMs: number): void {
    const timer = setTimeout(() => {
      this.graceOver(graceMs, timer).catch(() => {
        // The log is away: nobody can be seen reading, so the grace ends as it would alone.
        this.stopUnread(graceMs, timer);
      });
    }, waitMs);
    timer.unref();
    this.detachTimer = timer;
  }

  private async graceOver(graceMs: number, timer: NodeJS.Timeout): Promise<void> {
    const lastRead = await this.log.lastReadAt(this.id);
    const left = lastRead === undefined ? 0 : lastRead + graceMs - Date.now();
    if (left > 0 && this.detachTimer === timer && !this.done) this.armDetach(graceMs, left);
    else this.stopUnread(graceMs, timer);
  }

  /** Aborts the generation, unless a reader came back here (or the stream ended) since `timer` was set. */
  private stopUnread(graceMs: number, timer: NodeJS.Timeout): void {
    if (this.detachTimer !== timer || this.done) return;
    this.detachTimer = undefined;
    this.generation.abort(new GenerationStopped(`nobody read it for ${graceMs} ms`));
  }

  private end(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.detachTimer);
    // A broken log's failure is still to be written: the lease is kept until it is (`failOnceLogged`).
    if (!this.logBroken) this.keeper.stop();
    this.unsubscribeCancel();
    this.handlers.onDone(this);
    const listeners = this.doneListeners ?? [];
    this.doneListeners = undefined;
    for (const listener of listeners) listener();
    return true;
  }

  /**
   * Writes the stream's end. With a log that failed mid-stream, the end written is a failure
   * whatever the answer did (best effort: the log may still be away), so that a reader never
   * takes the logged part for the whole, nor an instance continues it as if its producer died.
   */
  private async write(operation: () => Promise<void>): Promise<void> {
    if (this.logBroken) {
      void this.failOnceLogged();
      return;
    }
    await operation().catch(this.onLogError);
  }

  /**
   * Writes the failure of a stream whose log broke, retrying while the log is away (backing
   * off to 5 s, until the stream's TTL). The lease is renewed meanwhile, so nobody takes the
   * stream over and continues it from its incomplete log; it stops once the failure is
   * written, the stream is gone (a Redis that lost its data), the lease was lost anyway, or the
   * log was closed.
   */
  private async failOnceLogged(): Promise<void> {
    const giveUpAt = Date.now() + this.log.ttlSeconds * 1000;
    // A log closed (the gateway stopping) is not coming back: nothing to wait for.
    for (let waitMs = 250; !this.log.isClosed; waitMs = Math.min(waitMs * 2, 5000)) {
      try {
        await this.log.fail(this.lease, { type: 'api_error', message: PARTLY_LOGGED });
        break;
      } catch (error) {
        if (error instanceof LeaseLostError || error instanceof StreamNotFoundError) break;
        if (Date.now() + waitMs > giveUpAt) break;
      }
      await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    }
    this.keeper.stop();
  }

  private readonly onLogError = (error: unknown): void => {
    if (error instanceof LeaseLostError) {
      // Another instance writes this stream now: this one is a zombie and stops.
      this.generation.abort(new GenerationStopped('its lease passed to another instance'));
      return;
    }
    if (this.logBroken) return;
    this.logBroken = true;
    this.handlers.warn(
      `stream ${this.id}: the stream log failed (${(error as Error).message}); the answer goes on unlogged and cannot be resumed`,
    );
  };
}

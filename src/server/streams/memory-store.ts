import { AbortError } from '../../protocol/errors.ts';
import { checkEntry, entryAfter } from './entry.ts';
import { EntryList } from './entry-list.ts';
import {
  InvalidLogEntryError,
  LeaseLostError,
  StreamExistsError,
  StreamNotFoundError,
  StreamStoreUnavailableError,
} from './errors.ts';
import type {
  AppendResult,
  Lease,
  LeaseRenewal,
  LeaseState,
  LogEntry,
  LookupOptions,
  NewStream,
  ReadOptions,
  StreamAttempt,
  StreamFailure,
  StreamFinal,
  StreamInfo,
  StreamLog,
  StreamLogOptions,
} from './types.ts';

export const DEFAULT_TTL_SECONDS = 600;
export const DEFAULT_LEASE_MS = 3000;

interface MemoryStream {
  info: Omit<StreamInfo, 'lease' | 'lastSeq'>;
  entries: EntryList;
  lease: LeaseState | undefined;
  expiresAt: number;
  /** How long it is kept after its last write. */
  ttlMs: number;
  /**
   * Readers waiting for the next write; each is called once and removed. Made when the first
   * comes (most streams never have one), like `cancelHandlers`: two empty sets were 0.4 KB of
   * every ended stream the log keeps.
   */
  waiters: Set<() => void> | undefined;
  /** When a reader last noted reading (ms since the epoch). */
  lastReadAt: number | undefined;
  cancelHandlers: Set<() => void> | undefined;
}

/**
 * The embedded stream log: everything in this process's memory. Streams expire `ttlSeconds`
 * after their last write (checked on every access, and swept on an unref'd timer so memory
 * is freed even if nobody asks again).
 */
export class MemoryStreamLog implements StreamLog {
  readonly ttlSeconds: number;
  readonly leaseMs: number;
  private readonly streams = new Map<string, MemoryStream>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  /** Whether `close()` was called: nothing more will be written or read. */
  get isClosed(): boolean {
    return this.closed;
  }

  constructor(options: StreamLogOptions = {}) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const ttlMs = this.ttlSeconds * 1000;
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(250, ttlMs / 2)));
    this.sweeper.unref();
  }

  async create(stream: NewStream): Promise<Lease> {
    this.checkOpen();
    if (this.live(stream.id)) throw new StreamExistsError(stream.id);
    const now = Date.now();
    this.streams.set(stream.id, {
      info: {
        id: stream.id,
        status: 'running',
        wire: stream.wire,
        ownerKeyHash: stream.ownerKeyHash,
        request: asJson(stream.request),
        createdAt: now,
        attempts: [],
        fence: 1,
        cancelRequested: false,
      },
      entries: new EntryList(),
      lease: { owner: stream.owner, token: 1, expiresAt: now + this.leaseMs },
      expiresAt: now + (stream.ttlSeconds ?? this.ttlSeconds) * 1000,
      ttlMs: (stream.ttlSeconds ?? this.ttlSeconds) * 1000,
      waiters: undefined,
      lastReadAt: undefined,
      cancelHandlers: undefined,
    });
    return { streamId: stream.id, owner: stream.owner, token: 1 };
  }

  async append(lease: Lease, entry: LogEntry): Promise<AppendResult> {
    return this.appendInPlace(lease, entry);
  }

  appendNow(lease: Lease, entry: LogEntry): AppendResult {
    return this.appendInPlace(lease, entry);
  }

  private appendInPlace(lease: Lease, entry: LogEntry): AppendResult {
    checkEntry(entry);
    const stream = this.writable(lease);
    const last = lastSeq(stream);
    if (entry.last <= last) return 'duplicate';
    if (entry.first !== last + 1) {
      throw new InvalidLogEntryError(
        `Stream ${lease.streamId}: the next entry must start at id ${last + 1}, not ${entry.first}.`,
      );
    }
    stream.entries.push({ first: entry.first, last: entry.last, data: entry.data });
    this.touch(stream);
    return 'appended';
  }

  async recordAttempt(lease: Lease, attempt: StreamAttempt): Promise<void> {
    const stream = this.writable(lease);
    stream.info.attempts.push(asJson(attempt) as StreamAttempt);
    this.touch(stream);
  }

  async finish(lease: Lease, final: StreamFinal): Promise<void> {
    const stream = this.writable(lease);
    stream.info.status = 'finished';
    stream.info.final = asJson(final) as StreamFinal;
    this.end(stream);
  }

  async fail(lease: Lease, failure: StreamFailure): Promise<void> {
    const stream = this.writable(lease);
    stream.info.status = 'failed';
    stream.info.error = { type: failure.type, message: failure.message };
    this.end(stream);
  }

  read(id: string, options: ReadOptions = {}): AsyncIterable<LogEntry> {
    return { [Symbol.asyncIterator]: () => this.follow(id, options) };
  }

  /** The memory store reads without round trips: `readAfter` has nothing to save. */
  async lookup(id: string, _options?: LookupOptions): Promise<StreamInfo | undefined> {
    this.checkOpen();
    const stream = this.live(id);
    return stream && infoOf(stream);
  }

  async acquireLease(id: string, owner: string): Promise<Lease | undefined> {
    this.checkOpen();
    const stream = this.live(id);
    if (stream?.info.status !== 'running' || leaseHeld(stream)) return undefined;
    const token = ++stream.info.fence;
    stream.lease = { owner, token, expiresAt: Date.now() + this.leaseMs };
    return { streamId: id, owner, token };
  }

  async renewLease(lease: Lease): Promise<LeaseRenewal> {
    return this.renew(lease);
  }

  /** Nothing to batch in memory: each lease is renewed in turn, its error kept as its answer. */
  async renewLeases(leases: readonly Lease[]): Promise<PromiseSettledResult<LeaseRenewal>[]> {
    this.checkOpen();
    return leases.map((lease): PromiseSettledResult<LeaseRenewal> => {
      try {
        return { status: 'fulfilled', value: this.renew(lease) };
      } catch (reason) {
        return { status: 'rejected', reason };
      }
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.checkOpen();
    const stream = this.live(lease.streamId);
    if (stream?.lease?.token === lease.token) {
      stream.lease = undefined;
      // Followers check the lease when woken: one waiting on this stream may take it over now.
      wake(stream);
    }
  }

  async requestCancel(id: string): Promise<boolean> {
    this.checkOpen();
    const stream = this.live(id);
    if (stream?.info.status !== 'running') return false;
    if (!stream.info.cancelRequested) {
      stream.info.cancelRequested = true;
      const handlers = [...(stream.cancelHandlers ?? [])];
      stream.cancelHandlers = undefined;
      for (const handler of handlers) handler();
    }
    return true;
  }

  async noteReader(id: string, at: number): Promise<void> {
    this.checkOpen();
    const stream = this.live(id);
    if (stream) stream.lastReadAt = Math.max(stream.lastReadAt ?? 0, at);
  }

  async lastReadAt(id: string): Promise<number | undefined> {
    this.checkOpen();
    return this.live(id)?.lastReadAt;
  }

  onCancel(id: string, handler: () => void): () => void {
    const stream = this.live(id);
    if (!stream) return () => {};
    if (stream.info.cancelRequested) {
      queueMicrotask(handler);
      return () => {};
    }
    stream.cancelHandlers ??= new Set();
    const handlers = stream.cancelHandlers;
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  async delete(id: string): Promise<void> {
    this.checkOpen();
    const stream = this.streams.get(id);
    if (stream) this.forget(id, stream);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const stream of this.streams.values()) {
      stream.cancelHandlers = undefined;
      wake(stream);
    }
    this.streams.clear();
  }

  private async *follow(id: string, options: ReadOptions): AsyncGenerator<LogEntry> {
    const { signal } = options;
    const leaseCheckMs = options.leaseCheckMs ?? this.leaseMs;
    let after = options.after ?? 0;
    let lapseReported = false;
    let index: number | undefined;
    const aborted = () => new AbortError('The reader left the stream.');
    for (;;) {
      if (signal?.aborted) throw aborted();
      this.checkOpen();
      const stream = this.live(id);
      if (!stream) throw new StreamNotFoundError(id);
      // One view per pass: an ended stream's entries are unpacked once, not per entry.
      const entries = stream.entries.view();
      index ??= entries.firstAfter(after);
      while (index < entries.length) {
        const entry = entries.at(index++);
        // A reader that started ahead of the producer skips what it asked not to see.
        if (entry.last <= after) continue;
        const cut = entryAfter(entry, after);
        after = entry.last;
        yield cut;
        if (signal?.aborted) throw aborted();
      }
      if (stream.info.status !== 'running' || options.follow === false) return;
      const woken = await waitForWrite(stream, leaseCheckMs, signal);
      if (leaseHeld(stream) || stream.info.status !== 'running') {
        lapseReported = false;
      } else if (!woken || stream.lease === undefined) {
        if (!lapseReported && this.live(id)) {
          lapseReported = true;
          options.onLeaseLapsed?.(infoOf(stream));
        }
      }
    }
  }

  private renew(lease: Lease): LeaseRenewal {
    const stream = this.writable(lease);
    stream.lease = { owner: lease.owner, token: lease.token, expiresAt: Date.now() + this.leaseMs };
    return { cancelRequested: stream.info.cancelRequested };
  }

  /** The stream if it may be written with this lease: LeaseLostError for a stale token or an ended stream. */
  private writable(lease: Lease): MemoryStream {
    this.checkOpen();
    const stream = this.live(lease.streamId);
    if (!stream) throw new StreamNotFoundError(lease.streamId);
    if (stream.info.fence !== lease.token) {
      throw new LeaseLostError(
        lease.streamId,
        `its lease passed to a newer owner (token ${stream.info.fence})`,
      );
    }
    if (stream.info.status !== 'running') throw new LeaseLostError(lease.streamId, 'it has ended');
    return stream;
  }

  private end(stream: MemoryStream): void {
    stream.lease = undefined;
    stream.cancelHandlers = undefined;
    stream.entries.seal();
    this.touch(stream);
  }

  private touch(stream: MemoryStream): void {
    stream.expiresAt = Date.now() + stream.ttlMs;
    wake(stream);
  }

  private live(id: string): MemoryStream | undefined {
    const stream = this.streams.get(id);
    if (stream && stream.expiresAt <= Date.now()) {
      this.forget(id, stream);
      return undefined;
    }
    return stream;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, stream] of this.streams) if (stream.expiresAt <= now) this.forget(id, stream);
  }

  private forget(id: string, stream: MemoryStream): void {
    this.streams.delete(id);
    stream.cancelHandlers = undefined;
    // Readers still waiting find it gone and end with StreamNotFoundError.
    wake(stream);
  }

  private checkOpen(): void {
    if (this.closed) throw new StreamStoreUnavailableError('memory (the log was closed)');
  }
}

function infoOf(stream: MemoryStream): StreamInfo {
  const info: StreamInfo = { ...stream.info, attempts: [...stream.info.attempts], lastSeq: lastSeq(stream) };
  if (leaseHeld(stream)) info.lease = { ...stream.lease! };
  return info;
}

function lastSeq(stream: MemoryStream): number {
  return stream.entries.lastSeq;
}

function leaseHeld(stream: MemoryStream): boolean {
  return stream.lease !== undefined && stream.lease.expiresAt > Date.now();
}

function wake(stream: MemoryStream): void {
  // Most appends have nobody waiting (the producer's own client reads what it writes).
  const waiters = stream.waiters;
  if (waiters === undefined) return;
  stream.waiters = undefined;
  for (const waiter of waiters) waiter();
}

/** Resolves true on the stream's next write, false after `timeoutMs`; rejects when `signal` aborts. */
function waitForWrite(
  stream: MemoryStream,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      clearTimeout(timer);
      stream.waiters?.delete(onWrite);
      signal?.removeEventListener('abort', onAbort);
    };
    const onWrite = () => {
      cleanUp();
      resolve(true);
    };
    const onAbort = () => {
      cleanUp();
      reject(new AbortError('The reader left the stream.'));
    };
    const timer = setTimeout(() => {
      cleanUp();
      resolve(false);
    }, timeoutMs);
    timer.unref();
    stream.waiters ??= new Set();
    stream.waiters.add(onWrite);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A copy through JSON, as the Redis store keeps it: the caller's object is never aliased. */
function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

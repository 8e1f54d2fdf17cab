import type { ErrorType } from '../../protocol/errors.ts';

/** The format the stream's first client asked for; a resume re-encodes the log's events into it. */
export type WireFormat = 'anthropic' | 'openai' | 'responses' | 'text';

export type StreamStatus = 'running' | 'finished' | 'failed';

/**
 * One network batch of canonical events as their Anthropic SSE text: each event is
 * `id: <n>\nevent: <type>\ndata: <json>\n\n` (LF line ends, one blank line after each event and
 * none inside one), with ids `first`..`last` in order. `last` is the entry's sequence number.
 */
export interface LogEntry {
  first: number;
  last: number;
  data: string;
}

/** Where the gateway asked the upstream again, and why (shown by `Accept: application/json`). */
export interface StreamAttempt {
  kind: 'initial' | 'retry' | 'resume' | 'restart' | 'reattach' | 'takeover' | 'fallback';
  /** Milliseconds since the epoch. */
  at: number;
  model?: string;
  reason?: string;
  /** The instance that ran it. */
  owner?: string;
  /** The id of the last event logged before it: what it produced follows that event. */
  after?: number;
}

export interface StreamFinal {
  /** The assembled message (JSON). */
  message: unknown;
  usage: unknown;
}

export interface StreamFailure {
  type: ErrorType;
  message: string;
}

export interface NewStream {
  id: string;
  /** The request as resolved, with no secret in it (the taking instance resolves its own keys). */
  request: unknown;
  wire: WireFormat;
  /** A digest of the API key that started the stream: only it may read the stream. */
  ownerKeyHash: string;
  /** The instance creating it: it holds the first lease. */
  owner: string;
  /** How long this stream is kept after its last write, instead of the log's `ttlSeconds` (a stored response's). */
  ttlSeconds?: number;
}

/** The right to write a stream: whoever holds the highest fencing token. */
export interface Lease {
  streamId: string;
  owner: string;
  /** Increases with every new owner; a write with a lower one is rejected. */
  token: number;
}

/** What a renewal learns besides keeping the lease: a cancel the producer may have missed. */
export interface LeaseRenewal {
  cancelRequested: boolean;
}

export interface LeaseState {
  owner: string;
  token: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface StreamInfo {
  id: string;
  status: StreamStatus;
  wire: WireFormat;
  ownerKeyHash: string;
  request: unknown;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** The id of the last event logged (0 before any). */
  lastSeq: number;
  attempts: StreamAttempt[];
  final?: StreamFinal;
  error?: StreamFailure;
  /** Absent when no instance holds the lease: on a running stream, it is free to take. */
  lease?: LeaseState;
  /** The highest fencing token issued so far. */
  fence: number;
  cancelRequested: boolean;
}

export interface ReadOptions {
  /** Start after this event id (0: from the start); a batch holding it is cut after it. */
  after?: number;
  /** Aborting ends the read with an AbortError and frees what it held at once. */
  signal?: AbortSignal;
  /**
   * False: end with what is logged now instead of following the stream live (a taking-over
   * instance reads the partial message this way before it continues it). Default true.
   */
  follow?: boolean;
  /**
   * Called when the reader has waited `leaseCheckMs` for an entry of a running stream whose
   * lease nobody holds: the producer is gone, and the reader may take the lease and continue.
   * Called again only after the lease was seen held once more.
   */
  onLeaseLapsed?: (info: StreamInfo) => void;
  /** How long a follower waits before checking the lease (default: the log's `leaseMs`). */
  leaseCheckMs?: number;
  /** The stream as the caller just looked it up: spares the read a lookup of its own (a reconnect's round trip). */
  info?: StreamInfo;
}

/** What a lookup may do besides: a hint, which a store without round trips ignores. */
export interface LookupOptions {
  /**
   * Read the entries after this event id along with the metadata: `read(id, { after, info })`
   * given the returned info then starts without a round trip of its own (a reconnect's first
   * replayed byte comes one round trip sooner). Nothing read is shown to anyone unless the
   * caller reads, so a lookup for a caller not yet authorised may ask for it.
   */
  readAfter?: number;
}

export type AppendResult = 'appended' | 'duplicate';

export interface StreamLogOptions {
  /** How long a stream is kept after its last write (default 600). */
  ttlSeconds?: number;
  /** How long a lease lasts without renewal (default 3000). */
  leaseMs?: number;
}

/**
 * The log of every streamed response: written by the one instance holding its lease, read by
 * any number of readers, each from any event id, catching up then following live to the end.
 */
export interface StreamLog {
  readonly ttlSeconds: number;
  readonly leaseMs: number;
  /** Whether `close()` was called: nothing more will be written or read. */
  readonly isClosed: boolean;
  /** Creates a stream and gives its creator the first lease (token 1). StreamExistsError if the id is taken. */
  create(stream: NewStream): Promise<Lease>;
  /** Appends one batch. A batch already logged is a duplicate (no-op); a stale lease throws LeaseLostError. */
  append(lease: Lease, entry: LogEntry): Promise<AppendResult>;
  /**
   * The same, done before it returns, for a log in this process's memory: a relay then sends
   * the batch without waiting a turn of the event loop for it. Absent for a log across the network.
   */
  appendNow?(lease: Lease, entry: LogEntry): AppendResult;
  recordAttempt(lease: Lease, attempt: StreamAttempt): Promise<void>;
  finish(lease: Lease, final: StreamFinal): Promise<void>;
  fail(lease: Lease, failure: StreamFailure): Promise<void>;
  /** Entries after `options.after`, live until the stream ends. StreamNotFoundError if unknown or expired. */
  read(id: string, options?: ReadOptions): AsyncIterable<LogEntry>;
  lookup(id: string, options?: LookupOptions): Promise<StreamInfo | undefined>;
  /** Takes a free lease of a running stream with a new, higher token; undefined if held, ended or unknown. */
  acquireLease(id: string, owner: string): Promise<Lease | undefined>;
  /** Extends the lease by `leaseMs`; LeaseLostError if another owner took it. */
  renewLease(lease: Lease): Promise<LeaseRenewal>;
  /**
   * Renews many leases in one go (the Redis store: one script call), answering per lease, in
   * order, what `renewLease` would have answered or thrown for it. Rejects as a whole only when
   * the store cannot be asked at all (StreamStoreUnavailableError). `LeaseKeeper`'s shared loop
   * uses it: one renewal per tick for every stream a log keeps, not one per stream.
   */
  renewLeases(leases: readonly Lease[]): Promise<PromiseSettledResult<LeaseRenewal>[]>;
  /** Gives the lease up without ending the stream, so another instance can take it over at once. */
  releaseLease(lease: Lease): Promise<void>;
  /** Asks the producer, wherever it runs, to abort. False if the stream is unknown or ended. */
  requestCancel(id: string): Promise<boolean>;
  /**
   * Notes that a reader (on any instance) read the stream at `at` (ms since the epoch): a
   * producer whose own clients left asks `lastReadAt` before its detach grace aborts the
   * generation, so a reader on another instance keeps it alive. Kept until the stream expires.
   */
  noteReader(id: string, at: number): Promise<void>;
  /** When a reader last noted reading the stream (ms since the epoch); undefined if none did. */
  lastReadAt(id: string): Promise<number | undefined>;
  /** Calls `handler` once when a cancel is requested (at once if it already was). Returns an unsubscribe. */
  onCancel(id: string, handler: () => void): () => void;
  /** Forgets a stream at once (a deleted stored response); its readers end as if it expired. */
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

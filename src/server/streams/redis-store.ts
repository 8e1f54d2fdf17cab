import type { Redis } from 'ioredis';
import { AbortError, SluiceError } from '../../protocol/errors.ts';
import { checkEntry, entryAfter } from './entry.ts';
import {
  InvalidLogEntryError,
  LeaseLostError,
  StreamExistsError,
  StreamNotFoundError,
  StreamStoreUnavailableError,
} from './errors.ts';
import { DEFAULT_LEASE_MS, DEFAULT_TTL_SECONDS } from './memory-store.ts';
import { connectRedis, DEFAULT_COMMAND_TIMEOUT_MS, redactRedisUrl } from './redis-connection.ts';
import * as scripts from './redis-scripts.ts';
import type {
  AppendResult,
  Lease,
  LeaseRenewal,
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
  StreamStatus,
  WireFormat,
} from './types.ts';

export interface RedisStreamLogOptions extends StreamLogOptions {
  /** Prepended to every key and channel (default `sluice:streams:`). */
  keyPrefix?: string;
  /** Blocking connections kept for followers between reads (default 8); more are opened on demand. */
  idleFollowers?: number;
  /** How long a command waits for Redis's answer before it fails as if Redis were away (default 1000). */
  commandTimeoutMs?: number;
  /**
   * The least time between two append calls, in ms (default 1): appends made meanwhile, by any
   * stream, go together in the next call. An append to a log that sent none for that long goes
   * at once, so a lone event waits for nothing; under load each event waits at most this long.
   */
  appendIntervalMs?: number;
}

type Args = (string | number)[];
/** The connection with the log's scripts defined (ioredis sends EVALSHA, and EVAL once if unknown). */
interface ScriptedRedis extends Redis {
  streamCreate(...args: Args): Promise<number>;
  streamAppendMany(...args: Args): Promise<string[]>;
  streamEnd(...args: Args): Promise<string>;
  streamAttempt(...args: Args): Promise<string>;
  streamAcquire(...args: Args): Promise<number>;
  streamRenewMany(...args: Args): Promise<string[]>;
  streamRelease(...args: Args): Promise<number>;
  streamCancel(...args: Args): Promise<number>;
}

/** A blocking connection and its client id, which `CLIENT UNBLOCK` needs to free it early. */
interface Follower {
  redis: Redis;
  clientId: number;
}

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

const READ_COUNT = 512;
/**
 * Each script call costs both ends a command (a promise and a timeout here; a wake-up, a read
 * and a write in Redis, ~30 µs on an idle 2-core VM) besides its entries. With a call per
 * event-loop turn, 1000 answers of 64 events made 17,354 calls; with 1 ms between calls, 11,993
 * (and Redis's CPU fell by a tenth: under load most of it is per entry, not per call).
 */
const DEFAULT_APPEND_INTERVAL_MS = 1;
/** Appends sent in one script call at most: bounds the call's size and how long Redis is busy with it. */
const APPENDS_PER_CALL = 256;
/** Renewals sent in one script call at most, for the same reason (each is an HMGET and a SET). */
const RENEWALS_PER_CALL = 256;

interface PendingAppend {
  lease: Lease;
  entry: LogEntry;
  resolve: (answer: string) => void;
  reject: (error: unknown) => void;
}

/** Opens the Redis log; StreamStoreUnavailableError (naming the URL, no credentials) if Redis does not answer. */
export async function openRedisStreamLog(
  url: string,
  options: RedisStreamLogOptions = {},
): Promise<RedisStreamLog> {
  const redis = await connectRedis(url, {
    enableAutoPipelining: true,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  });
  return new RedisStreamLog(redis, redactRedisUrl(url), options);
}

/**
 * The stream log in Redis Streams, for several instances. One Redis Stream per stream with an
 * entry per network batch whose id is `<last event id>-0`, so Redis itself refuses an entry
 * not after the last; writes are Lua scripts that check the fencing token first; followers
 * block in `XREAD BLOCK` on connections of their own, so they never hold up other commands.
 */
export class RedisStreamLog implements StreamLog {
  readonly ttlSeconds: number;
  readonly leaseMs: number;
  private readonly redis: ScriptedRedis;
  private readonly where: string;
  private readonly prefix: string;
  private readonly cancelChannel: string;
  private readonly idleFollowerLimit: number;
  private readonly idleFollowers: Follower[] = [];
  private readonly busyFollowers = new Set<Follower>();
  private readonly cancelHandlers = new Map<string, Set<() => void>>();
  private subscriber: Redis | undefined;
  private pendingAppends: PendingAppend[] = [];
  private readonly appendIntervalMs: number;
  /** When the last append call went out (performance.now()), and the timer of the next, if waiting. */
  private lastAppendCallAt = Number.NEGATIVE_INFINITY;
  private appendTimer: NodeJS.Timeout | undefined;
  /** The last append call sent: calls are answered in order, so it settles after every other. */
  private lastAppendCall: Promise<unknown> | undefined;
  /** What a lookup read ahead for the reader that will be given its info (`LookupOptions.readAfter`). */
  private readonly readAhead = new WeakMap<StreamInfo, { after: number; reply: XReadReply }>();
  private closed = false;

  /** Whether `close()` was called: nothing more will be written or read. */
  get isClosed(): boolean {
    return this.closed;
  }

  constructor(redis: Redis, where: string, options: RedisStreamLogOptions = {}) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.where = where;
    this.prefix = options.keyPrefix ?? 'sluice:streams:';
    this.cancelChannel = `${this.prefix}cancel`;
    this.idleFollowerLimit = options.idleFollowers ?? 8;
    this.appendIntervalMs = options.appendIntervalMs ?? DEFAULT_APPEND_INTERVAL_MS;
    redis.defineCommand('streamCreate', { numberOfKeys: 2, lua: scripts.CREATE });
    // The number of keys varies: it is passed first on each call.
    redis.defineCommand('streamAppendMany', { lua: scripts.APPEND_MANY });
    redis.defineCommand('streamEnd', { numberOfKeys: 3, lua: scripts.END });
    redis.defineCommand('streamAttempt', { numberOfKeys: 1, lua: scripts.ATTEMPT });
    redis.defineCommand('streamAcquire', { numberOfKeys: 2, lua: scripts.ACQUIRE });
    redis.defineCommand('streamRenewMany', { lua: scripts.RENEW_MANY });
    redis.defineCommand('streamRelease', { numberOfKeys: 1, lua: scripts.RELEASE });
    redis.defineCommand('streamCancel', { numberOfKeys: 1, lua: scripts.CANCEL });
    this.redis = redis as ScriptedRedis;
  }

  private get ttlMs(): number {
    return this.ttlSeconds * 1000;
  }

  async create(stream: NewStream): Promise<Lease> {
    const keys = this.keys(stream.id);
    const created = await this.call(() =>
      this.redis.streamCreate(
        keys.meta,
        keys.lease,
        stream.wire,
        stream.ownerKeyHash,
        JSON.stringify(stream.request ?? null),
        Date.now(),
        stream.owner,
        this.leaseMs,
        (stream.ttlSeconds ?? this.ttlSeconds) * 1000,
      ),
    );
    if (created !== 1) throw new StreamExistsError(stream.id);
    return { streamId: stream.id, owner: stream.owner, token: 1 };
  }

  async append(lease: Lease, entry: LogEntry): Promise<AppendResult> {
    checkEntry(entry);
    if (this.closed) throw new StreamStoreUnavailableError(`${this.where} (the log was closed)`);
    const answer = await new Promise<string>((resolve, reject) => {
      this.pendingAppends.push({ lease, entry, resolve, reject });
      if (this.pendingAppends.length === 1) this.scheduleAppends();
    });
    return answer === 'duplicate' ? 'duplicate' : this.written(lease, answer);
  }

  /**
   * Group commit: the first append after a quiet spell goes after this turn of the event loop
   * (with every other append made in it); later ones wait until `appendIntervalMs` after the
   * last call, gathering the appends of every stream in the meantime.
   */
  private scheduleAppends(): void {
    const wait = this.lastAppendCallAt + this.appendIntervalMs - performance.now();
    if (wait <= 0) setImmediate(this.flushAppends);
    else this.appendTimer = setTimeout(this.flushAppends, wait);
  }

  /**
   * Sends the appends made since the last flush as one script call per chunk. Appends of one
   * stream keep their order: within a call the script applies them in order, and calls go out
   * on one connection in the order they were made.
   */
  private readonly flushAppends = (): void => {
    clearTimeout(this.appendTimer);
    this.appendTimer = undefined;
    const appends = this.pendingAppends;
    if (appends.length === 0) return;
    this.lastAppendCallAt = performance.now();
    this.pendingAppends = [];
    for (let start = 0; start < appends.length; start += APPENDS_PER_CALL) {
      const chunk = appends.slice(start, start + APPENDS_PER_CALL);
      const keys: string[] = [];
      const args: (string | number)[] = [Date.now(), this.ttlMs];
      for (const { lease, entry } of chunk) {
        const { meta, log } = this.keys(lease.streamId);
        keys.push(meta, log);
        args.push(lease.token, entry.first, entry.last, entry.data);
      }
      this.lastAppendCall = this.call(() => this.redis.streamAppendMany(keys.length, ...keys, ...args)).then(
        (answers) => {
          for (const [i, append] of chunk.entries()) append.resolve(answers[i] ?? 'missing');
        },
        (error: unknown) => {
          for (const append of chunk) append.reject(error);
        },
      );
    }
  };

  async recordAttempt(lease: Lease, attempt: StreamAttempt): Promise<void> {
    const keys = this.keys(lease.streamId);
    this.written(
      lease,
      await this.call(() => this.redis.streamAttempt(keys.meta, lease.token, JSON.stringify(attempt))),
    );
  }

  async finish(lease: Lease, final: StreamFinal): Promise<void> {
    await this.end(lease, 'finished', 'final', JSON.stringify(final));
  }

  async fail(lease: Lease, failure: StreamFailure): Promise<void> {
    await this.end(
      lease,
      'failed',
      'error',
      JSON.stringify({ type: failure.type, message: failure.message }),
    );
  }

  read(id: string, options: ReadOptions = {}): AsyncIterable<LogEntry> {
    return { [Symbol.asyncIterator]: () => this.follow(id, options) };
  }

  async lookup(id: string, options: LookupOptions = {}): Promise<StreamInfo | undefined> {
    const keys = this.keys(id);
    const { readAfter } = options;
    const replies = await this.call(() => {
      const pipeline = this.redis.pipeline().hgetall(keys.meta).get(keys.lease).pttl(keys.lease);
      if (readAfter !== undefined) pipeline.xread('COUNT', READ_COUNT, 'STREAMS', keys.log, `${readAfter}-0`);
      return pipeline.exec();
    });
    for (const [error] of replies ?? [])
      if (error) throw new StreamStoreUnavailableError(this.where, { cause: error });
    const meta = replies?.[0]?.[1] as Record<string, string> | undefined;
    if (!meta || meta.status === undefined) return undefined;
    const info: StreamInfo = {
      id,
      status: meta.status as StreamStatus,
      wire: meta.wire as WireFormat,
      ownerKeyHash: meta.key ?? '',
      request: JSON.parse(meta.request ?? 'null'),
      createdAt: Number(meta.created),
      lastSeq: Number(meta.last ?? 0),
      attempts: meta.attempts ? JSON.parse(meta.attempts) : [],
      fence: Number(meta.fence),
      cancelRequested: meta.cancel === '1',
    };
    if (meta.final) info.final = JSON.parse(meta.final);
    if (meta.error) info.error = JSON.parse(meta.error);
    const lease = replies?.[1]?.[1] as string | null;
    const pttl = Number(replies?.[2]?.[1]);
    if (lease && pttl > 0) {
      const space = lease.indexOf(' ');
      info.lease = {
        token: Number(lease.slice(0, space)),
        owner: lease.slice(space + 1),
        expiresAt: Date.now() + pttl,
      };
    }
    if (readAfter !== undefined)
      this.readAhead.set(info, { after: readAfter, reply: replies?.[3]?.[1] as XReadReply });
    return info;
  }

  async acquireLease(id: string, owner: string): Promise<Lease | undefined> {
    const keys = this.keys(id);
    const token = await this.call(() => this.redis.streamAcquire(keys.meta, keys.lease, owner, this.leaseMs));
    return token > 0 ? { streamId: id, owner, token } : undefined;
  }

  async renewLease(lease: Lease): Promise<LeaseRenewal> {
    const [renewal] = await this.renewLeases([lease]);
    if (renewal?.status !== 'fulfilled') throw renewal?.reason;
    return renewal.value;
  }

  /** One script call per chunk of leases: a tick of the keepers' loop costs Redis one call, not one per stream. */
  async renewLeases(leases: readonly Lease[]): Promise<PromiseSettledResult<LeaseRenewal>[]> {
    const calls: Promise<string[]>[] = [];
    for (let start = 0; start < leases.length; start += RENEWALS_PER_CALL) {
      const keys: string[] = [];
      const args: Args = [this.leaseMs];
      for (const lease of leases.slice(start, start + RENEWALS_PER_CALL)) {
        const { meta, lease: leaseKey } = this.keys(lease.streamId);
        keys.push(meta, leaseKey);
        args.push(lease.token, lease.owner);
      }
      calls.push(this.call(() => this.redis.streamRenewMany(keys.length, ...keys, ...args)));
    }
    const answers = (await Promise.all(calls)).flat();
    return leases.map((lease, i) => this.renewal(lease, answers[i] ?? 'missing'));
  }

  async releaseLease(lease: Lease): Promise<void> {
    const keys = this.keys(lease.streamId);
    // What was appended before the hand-over is logged before it, so the next owner sees it.
    this.flushAppends();
    await this.call(() => this.redis.streamRelease(keys.lease, lease.token, lease.owner));
  }

  async requestCancel(id: string): Promise<boolean> {
    const keys = this.keys(id);
    return (await this.call(() => this.redis.streamCancel(keys.meta, this.cancelChannel, id))) === 1;
  }

  async noteReader(id: string, at: number): Promise<void> {
    await this.call(() => this.redis.set(this.keys(id).read, String(at), 'PX', this.ttlMs));
  }

  async lastReadAt(id: string): Promise<number | undefined> {
    const at = await this.call(() => this.redis.get(this.keys(id).read));
    return at === null ? undefined : Number(at);
  }

  onCancel(id: string, handler: () => void): () => void {
    let handlers = this.cancelHandlers.get(id);
    if (!handlers) {
      handlers = new Set();
      this.cancelHandlers.set(id, handlers);
    }
    let done = false;
    const once = () => {
      if (done) return;
      unsubscribe();
      handler();
    };
    const unsubscribe = () => {
      done = true;
      const current = this.cancelHandlers.get(id);
      current?.delete(once);
      if (current?.size === 0) this.cancelHandlers.delete(id);
    };
    handlers.add(once);
    // Subscribed first, then the flag read: a cancel between the two is seen either way.
    this.subscribeToCancels()
      .then(() => this.redis.hget(this.keys(id).meta, 'cancel'))
      .then((flag) => {
        if (flag === '1') once();
      })
      .catch(() => {
        // Redis is away: the cancel is seen when the producer next writes or renews and fails.
      });
    return unsubscribe;
  }

  async delete(id: string): Promise<void> {
    const { meta, log, lease, read } = this.keys(id);
    await this.call(() => this.redis.del(meta, log, lease, read));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Appends still gathering go out (sent now, before the flag refuses new calls), and are
    // answered before the connection is closed.
    this.flushAppends();
    this.closed = true;
    await this.lastAppendCall;
    for (const follower of [...this.idleFollowers, ...this.busyFollowers]) follower.redis.disconnect();
    this.idleFollowers.length = 0;
    this.busyFollowers.clear();
    this.cancelHandlers.clear();
    this.subscriber?.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async *follow(id: string, options: ReadOptions): AsyncGenerator<LogEntry> {
    const { signal } = options;
    const leaseCheckMs = Math.max(1, Math.round(options.leaseCheckMs ?? this.leaseMs));
    const keys = this.keys(id);
    let after = options.after ?? 0;
    let cursor = `${after}-0`;
    let lapseReported = false;
    const aborted = () => new AbortError('The reader left the stream.');
    if (signal?.aborted) throw aborted();
    const start = options.info ?? (await this.lookup(id));
    if (!start) throw new StreamNotFoundError(id);
    // Past the end of an ended stream there is no end marker to wait for.
    if (start.status !== 'running' && after >= start.lastSeq) return;
    let block = false;
    // The lookup that gave `info` may have read the first entries already.
    const ahead = options.info && this.readAhead.get(options.info);
    let readAlready = ahead?.after === after ? ahead.reply : undefined;
    for (;;) {
      if (signal?.aborted) throw aborted();
      const reply =
        readAlready !== undefined
          ? readAlready
          : block
            ? await this.blockingRead(keys.log, cursor, leaseCheckMs, signal)
            : ((await this.call(() =>
                this.redis.xread('COUNT', READ_COUNT, 'STREAMS', keys.log, cursor),
              )) as XReadReply);
      readAlready = undefined;
      if (signal?.aborted) throw aborted();
      const entries = reply?.[0]?.[1] ?? [];
      for (const [entryId, fields] of entries) {
        cursor = entryId;
        if (fields[0] === 'e') return;
        const entry = entryOf(entryId, fields);
        const cut = entryAfter(entry, after);
        after = entry.last;
        yield cut;
        if (signal?.aborted) throw aborted();
      }
      if (entries.length > 0) {
        block = false;
        continue;
      }
      if (options.follow === false) return;
      if (block) {
        // Nothing for leaseCheckMs: is the stream still there, still running, still owned?
        const info = await this.lookup(id);
        if (!info) throw new StreamNotFoundError(id);
        if (info.status === 'running' && !info.lease) {
          if (!lapseReported) {
            lapseReported = true;
            options.onLeaseLapsed?.(info);
          }
        } else {
          lapseReported = false;
        }
      }
      block = true;
    }
  }

  /** `XREAD BLOCK` on a follower connection; an abort unblocks it at once and hands it back. */
  private async blockingRead(
    log: string,
    cursor: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<XReadReply> {
    const follower = await this.takeFollower();
    const onAbort = () => {
      this.redis.client('UNBLOCK', follower.clientId).catch(() => follower.redis.disconnect());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let healthy = false;
    try {
      const reply = (await follower.redis.xread(
        'COUNT',
        READ_COUNT,
        'BLOCK',
        timeoutMs,
        'STREAMS',
        log,
        cursor,
      )) as XReadReply;
      healthy = true;
      return reply;
    } catch (error) {
      throw new StreamStoreUnavailableError(this.where, { cause: error });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.giveBack(follower, healthy);
    }
  }

  private async takeFollower(): Promise<Follower> {
    if (this.closed) throw new StreamStoreUnavailableError(`${this.where} (the log was closed)`);
    let follower = this.idleFollowers.pop();
    if (follower?.redis.status !== 'ready') {
      follower?.redis.disconnect();
      // Named, so `CLIENT LIST` tells a gateway's followers apart from its other connections.
      const redis = this.redis.duplicate({
        enableAutoPipelining: false,
        // XREAD BLOCK waits on purpose; an abort unblocks it (CLIENT UNBLOCK) instead.
        commandTimeout: undefined,
        connectionName: `${this.prefix}follower`,
      });
      redis.on('error', () => {});
      try {
        await redis.connect();
        follower = { redis, clientId: Number(await redis.client('ID')) };
      } catch (error) {
        redis.disconnect();
        throw new StreamStoreUnavailableError(this.where, { cause: error });
      }
    }
    this.busyFollowers.add(follower);
    return follower;
  }

  private giveBack(follower: Follower, healthy: boolean): void {
    this.busyFollowers.delete(follower);
    if (healthy && !this.closed && this.idleFollowers.length < this.idleFollowerLimit) {
      this.idleFollowers.push(follower);
    } else {
      follower.redis.disconnect();
    }
  }

  private async subscribeToCancels(): Promise<void> {
    if (!this.subscriber) {
      const subscriber = this.redis.duplicate({
        enableAutoPipelining: false,
        commandTimeout: undefined,
        connectionName: `${this.prefix}cancel`,
      });
      subscriber.on('error', () => {});
      subscriber.on('message', (_channel: string, id: string) => {
        for (const handler of [...(this.cancelHandlers.get(id) ?? [])]) handler();
      });
      this.subscriber = subscriber;
      await subscriber.connect();
      await subscriber.subscribe(this.cancelChannel);
    }
  }

  private async end(lease: Lease, status: StreamStatus, field: string, json: string): Promise<void> {
    const keys = this.keys(lease.streamId);
    // Appends made before the end, still waiting for their turn, go out first: the end is
    // written after them, whether or not the producer waited for each.
    this.flushAppends();
    this.written(
      lease,
      await this.call(() =>
        this.redis.streamEnd(
          keys.meta,
          keys.log,
          keys.lease,
          lease.token,
          status,
          field,
          json,
          Date.now(),
          this.ttlMs,
        ),
      ),
    );
  }

  /** Turns a write script's answer into an error, or nothing when it wrote. */
  private written(lease: Lease, answer: string): AppendResult {
    if (answer === 'appended') return 'appended';
    throw refusal(lease, answer);
  }

  /** One lease's answer from `RENEW_MANY`, as `renewLease` settles. */
  private renewal(lease: Lease, answer: string): PromiseSettledResult<LeaseRenewal> {
    if (answer === 'renewed' || answer === 'cancelled') {
      return { status: 'fulfilled', value: { cancelRequested: answer === 'cancelled' } };
    }
    return { status: 'rejected', reason: refusal(lease, answer) };
  }

  /** Runs a Redis command; anything but the log's own errors means Redis is unreachable. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StreamStoreUnavailableError(`${this.where} (the log was closed)`);
    try {
      return await command();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new StreamStoreUnavailableError(this.where, { cause: error });
    }
  }

  private keys(id: string): { meta: string; log: string; lease: string; read: string } {
    // One hash tag for all, so they share a slot (the scripts touch them together).
    const base = `${this.prefix}{${id}}`;
    return { meta: `${base}:meta`, log: `${base}:log`, lease: `${base}:lease`, read: `${base}:read` };
  }
}

/** The error a write script's refusal stands for. */
function refusal(lease: Lease, answer: string): Error {
  const id = lease.streamId;
  if (answer === 'missing') return new StreamNotFoundError(id);
  if (answer === 'ended') return new LeaseLostError(id, 'it has ended');
  if (answer.startsWith('fenced ')) {
    return new LeaseLostError(id, `its lease passed to a newer owner (token ${answer.slice(7)})`);
  }
  if (answer.startsWith('gap ')) {
    return new InvalidLogEntryError(`Stream ${id}: the next entry must start at id ${answer.slice(4)}.`);
  }
  return new InvalidLogEntryError(`Stream ${id}: unexpected answer from the log: ${answer}.`);
}

function entryOf(entryId: string, fields: string[]): LogEntry {
  let first = 0;
  let data = '';
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'f') first = Number(fields[i + 1]);
    else if (fields[i] === 'd') data = fields[i + 1] ?? '';
  }
  return { first, last: Number(entryId.slice(0, entryId.indexOf('-'))), data };
}

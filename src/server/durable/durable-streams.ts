import { randomUUID } from 'node:crypto';
import type { OpenAIChunkOptions } from '../../providers/openai/server/stream.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';
import { DEFAULT_STREAMS_CONFIG, type StreamsConfig } from '../streams/config.ts';
import { MemoryStreamLog } from '../streams/memory-store.ts';
import type { Lease, StreamLog, WireFormat } from '../streams/types.ts';
import { StreamProducer } from './producer.ts';
import { digestToken, newResumeToken } from './resume-token.ts';
import type { StreamRecord } from './stream-record.ts';

export interface DurableStreamsOptions {
  log: StreamLog;
  config?: Pick<StreamsConfig, 'detachGraceMs' | 'onDisconnect'>;
  /** Where a failing log is reported (once per stream). */
  warn?: (message: string) => void;
}

export interface NewDurableStream {
  wire: WireFormat;
  ownerKeyHash: string;
  params: unknown;
  openai?: OpenAIChunkOptions;
  responses?: ResponsesWireOptions;
  /** The stream's id (a Responses stream's is its response's); a new one by default. */
  id?: string;
  /** How long it is kept after its last write, instead of the log's TTL. */
  ttlSeconds?: number;
}

/**
 * This instance's side of the stream log: it starts the streams it produces (each a
 * StreamProducer, known here until it ends, so a DELETE or a reader on this instance finds
 * it), and says how a client's leaving is handled.
 */
export class DurableStreams {
  readonly log: StreamLog;
  /** The instance's name in leases and attempts. */
  readonly owner = `gw_${randomUUID()}`;
  readonly detachGraceMs: number;
  readonly onDisconnect: 'detach' | 'abort';
  /** A store other instances read: a stream cut by a shutdown is released for them, not failed. */
  readonly shared: boolean;
  private readonly producers = new Map<string, StreamProducer>();
  /** Where a failing log or takeover is reported. */
  readonly warn: (message: string) => void;
  private idleWaiters: (() => void)[] = [];

  constructor(options: DurableStreamsOptions) {
    this.log = options.log;
    this.shared = !(options.log instanceof MemoryStreamLog);
    this.detachGraceMs = options.config?.detachGraceMs ?? DEFAULT_STREAMS_CONFIG.detachGraceMs;
    this.onDisconnect = options.config?.onDisconnect ?? DEFAULT_STREAMS_CONFIG.onDisconnect;
    this.warn = options.warn ?? (() => {});
  }

  /** Creates the stream in the log (a store that is away: StreamStoreUnavailableError, a 503). */
  async start(spec: NewDurableStream): Promise<{ producer: StreamProducer; token: string }> {
    const token = newResumeToken();
    const record: StreamRecord = { params: spec.params, tokenDigest: digestToken(token) };
    if (spec.openai) record.openai = spec.openai;
    if (spec.responses) record.responses = spec.responses;
    const id = spec.id ?? `str_${randomUUID()}`;
    const lease = await this.log.create({
      id,
      request: record,
      wire: spec.wire,
      ownerKeyHash: spec.ownerKeyHash,
      owner: this.owner,
      ...(spec.ttlSeconds === undefined ? {} : { ttlSeconds: spec.ttlSeconds }),
    });
    return { producer: this.produce(lease, { assemble: spec.wire === 'text' }), token };
  }

  /**
   * Becomes the producer of a stream whose lease this instance just took over: appends
   * continue after `lastId`, and the stream is known here (DELETE, readers, detach) as one it
   * started.
   */
  adopt(lease: Lease, lastId: number): StreamProducer {
    return this.produce(lease, { afterId: lastId });
  }

  private produce(lease: Lease, options: { afterId?: number; assemble?: boolean }): StreamProducer {
    const producer = new StreamProducer(
      this.log,
      lease,
      {
        warn: this.warn,
        onDone: (done) => {
          // A takeover of a stream this instance still thought it produced replaced the entry.
          if (this.producers.get(done.id) === done) this.producers.delete(done.id);
          if (this.producers.size > 0) return;
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        },
      },
      options,
    );
    this.producers.set(lease.streamId, producer);
    return producer;
  }

  /**
   * Resolves once no stream is generating here: a shutdown waits for detached generations
   * (which hold no connection) as it waits for connections, until its grace period aborts them.
   */
  whenIdle(): Promise<void> {
    if (this.producers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The producer of a stream generating on this instance. */
  producer(id: string): StreamProducer | undefined {
    return this.producers.get(id);
  }
}

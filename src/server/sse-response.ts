import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { StreamEvent } from '../protocol/events.ts';
import { encodeJsonSSE, encodeSSEComment } from '../stream/sse.ts';
import { writableReady } from '../stream/writable.ts';
import type { InFlight } from './in-flight.ts';

export interface SseResponseOptions {
  streamId: string;
  /** A comment line after this long without an event keeps proxies and clients from timing out. */
  pingIntervalMs: number;
  headers?: Record<string, string>;
}

/**
 * An SSE response on a raw Node response: each event flushed at once with an `id:` sequence
 * number, writes that wait while the client is slow (so the gateway never buffers without
 * bound), a ping on idle, and a signal that aborts when the client goes away.
 */
export class SseResponse {
  readonly closed: AbortSignal;
  private readonly res: ServerResponse;
  private readonly pingIntervalMs: number;
  private sequence = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  private readonly disconnected = new AbortController();

  constructor(res: ServerResponse, options: SseResponseOptions) {
    this.res = res;
    this.pingIntervalMs = options.pingIntervalMs;
    this.closed = this.disconnected.signal;
    res.on('close', () => {
      this.stopPings();
      // 'close' also follows a normal end; only a response cut short is a disconnect.
      if (!res.writableFinished) this.disconnected.abort();
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'sluice-stream-id': options.streamId,
      ...options.headers,
    });
    // No flushHeaders(): the stream opens with its first events in hand, and the headers go
    // out in the same write as those events (one syscall fewer before the first token).
    res.socket?.setNoDelay(true);
    this.schedulePing();
  }

  /** The number of the last event written. */
  get lastEventId(): number {
    return this.sequence;
  }

  /**
   * Writes a batch of events. Returns a promise to wait on only when the client is slow;
   * otherwise nothing, so a relay loop pays no await per batch.
   */
  write(events: readonly StreamEvent[]): Promise<void> | undefined {
    if (this.closed.aborted || events.length === 0) return undefined;
    let text = '';
    for (const event of events) {
      this.sequence++;
      text += encodeJsonSSE(this.sequence, event.type, JSON.stringify(event));
    }
    this.schedulePing();
    return this.res.write(text) ? undefined : writableReady(this.res);
  }

  /**
   * Writes text already in SSE form; like `write`, returns a promise only when the client is
   * slow, and nothing once the client is gone (a detached stream is generated on unread).
   */
  writeText(text: string): Promise<void> | undefined {
    if (this.closed.aborted || text === '') return undefined;
    this.schedulePing();
    return this.res.write(text) ? undefined : writableReady(this.res);
  }

  /** Writes text already in SSE form (another protocol's events); resolves when the client can take more. */
  async writeRaw(text: string): Promise<void> {
    if (this.closed.aborted) return;
    this.schedulePing();
    if (!this.res.write(text)) await writableReady(this.res);
  }

  end(): void {
    this.stopPings();
    if (!this.res.writableEnded) this.res.end();
  }

  /**
   * Notes that the stream is active; the ping timer checks it when it fires. Re-arming a timer
   * on every write would move it in Node's timer list once per token of every stream.
   */
  private schedulePing(): void {
    if (this.pingIntervalMs <= 0) return;
    this.lastActivity = performance.now();
    this.pingTimer ??= setTimeout(this.pingIfIdle, this.pingIntervalMs);
  }

  private readonly pingIfIdle = (): void => {
    this.pingTimer = undefined;
    if (this.res.writableEnded || this.closed.aborted) return;
    const idle = performance.now() - this.lastActivity;
    let wait = this.pingIntervalMs - idle;
    if (wait <= 0) {
      this.res.write(encodeSSEComment('ping'));
      this.lastActivity = performance.now();
      wait = this.pingIntervalMs;
    }
    this.pingTimer = setTimeout(this.pingIfIdle, wait);
  };

  private stopPings(): void {
    clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
  }
}

/** Takes the response over from Fastify and opens an event stream on it (a new stream id unless given). */
export function openEventStream(
  reply: FastifyReply,
  pingIntervalMs: number,
  stream: { id: string; headers?: Record<string, string> } = { id: `str_${randomUUID()}` },
): SseResponse {
  // Headers set by hooks (CORS) live on the reply, which a hijacked response no longer sends.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  reply.hijack();
  return new SseResponse(reply.raw, {
    streamId: stream.id,
    pingIntervalMs,
    headers: { ...headers, ...stream.headers },
  });
}

/**
 * A request's signal: aborts when its client goes away or the gateway's grace period ends.
 * Not `AbortSignal.any`, whose weak references and finalizers cost every request a share of
 * garbage collection; the request leaves `inFlight` when its response closes.
 */
export function requestSignal(reply: FastifyReply, inFlight: InFlight): AbortSignal {
  const controller = new AbortController();
  const release = inFlight.track(controller);
  whenClosed(reply, () => controller.abort(), release);
  return controller.signal;
}

/** Runs `cut` if the response closes before it was complete (the client left), `always` either way. */
function whenClosed(reply: FastifyReply, cut: () => void, always?: () => void): void {
  reply.raw.once('close', () => {
    always?.();
    if (!reply.raw.writableFinished) cut();
  });
}

import type { FastifyReply } from 'fastify';
import { AbortError, SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { Message, Usage } from '../../protocol/message.ts';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import type { ModelCall } from '../routes/model-call.ts';
import { cutReason } from '../routes/model-call.ts';
import { openEventStream, type SseResponse } from '../sse-response.ts';
import type { RelayKind } from '../telemetry.ts';
import { GenerationStopped, type StreamProducer } from './producer.ts';
import type { SseWire } from './wire.ts';

/** The headers that let a client resume: the stream's id and its resume token. */
export function resumeHeaders(producer: StreamProducer, token: string): Record<string, string> {
  return { 'sluice-stream-id': producer.id, 'sluice-resume-token': token };
}

/**
 * Ties a durable stream's generation to its first client: before the response opens, the
 * client leaving aborts at once (it never learnt the id, nobody could resume); after, it
 * leaves as a reader, and the generation runs on for the detach grace (or stops at once
 * with `onDisconnect: "abort"`). A shutdown aborts it like any request in flight.
 */
export function bindGeneration(gateway: GatewayContext, reply: FastifyReply, producer: StreamProducer): void {
  const { streams } = gateway;
  trackGeneration(gateway, producer);
  producer.attachReader();
  reply.raw.once('close', () => {
    if (reply.raw.writableFinished) return;
    if (!reply.sent || streams.onDisconnect === 'abort') {
      producer.generation.abort(new GenerationStopped('the client left'));
    } else {
      producer.detachReader(streams.detachGraceMs);
    }
  });
}

/**
 * Counts a generation as in flight (a shutdown waits for it, then aborts it) until it is
 * aborted, its producer is done, or the returned release is called. Without the producer's
 * end, every stream that ended unaborted stayed in the set for the life of the process.
 */
export function trackGeneration(gateway: GatewayContext, producer: StreamProducer): () => void {
  const release = gateway.inFlight.track(producer.generation);
  producer.generation.signal.addEventListener('abort', release, { once: true });
  producer.whenDone(release);
  return release;
}

/**
 * Lets a durable stream's generation drive a model call: the call's signal is the
 * generation's (which may outlive its client), its ledger row names the stream, and every
 * upstream call after the first (retry, resume, fallback) is recorded in the stream's status,
 * with why and after which event.
 */
export function driveCall(gateway: GatewayContext, call: ModelCall, producer: StreamProducer): void {
  call.signal = producer.generation.signal;
  call.streamId = producer.id;
  call.onAttempt = ({ kind, model, reason }) =>
    producer.recordAttempt({
      kind,
      at: Date.now(),
      model,
      reason,
      owner: gateway.streams.owner,
      after: producer.lastId,
    });
}

/**
 * Relays a model call's batches to the client and the log: each batch is logged (ids
 * continuing the stream's) and its bytes written at once, the log's own bytes when the wire
 * is Anthropic's. A client gone leaves the loop running (detach) with writes skipped; the end
 * is logged as a finish, a failure (its error event logged and written), or, on shutdown with
 * a shared store, a released lease (nothing written: another instance may take it over).
 */
export async function relayDurably(
  reply: FastifyReply,
  batches: AsyncIterable<readonly StreamEvent[]>,
  wire: SseWire,
  producer: StreamProducer,
  token: string,
  gateway: GatewayContext,
  call: ModelCall,
): Promise<void> {
  const durable = new DurableReply(reply, wire, producer, token, gateway, call);
  try {
    await durable.relay(batches);
    await durable.complete(call.answer);
  } catch (error) {
    await durable.fail(error);
  }
}

/**
 * A durable stream's response: the client's SSE (opened with the first bytes) and the log,
 * written in that order's reverse (logged, then sent). The full relay and the pass-through
 * relay (relay/fast-relay.ts) write through the same one, so a stream the pass-through hands to
 * the full path mid-answer goes on in the same response with the ids continuing.
 */
export class DurableReply {
  readonly producer: StreamProducer;
  private readonly reply: FastifyReply;
  private readonly wire: SseWire;
  private readonly token: string;
  private readonly gateway: GatewayContext;
  private readonly call: ModelCall;
  private sse: SseResponse | undefined;
  /** Which relay opened the response (the `sluice-relay` header, and the request's telemetry). */
  relayName: RelayKind = 'full';

  constructor(
    reply: FastifyReply,
    wire: SseWire,
    producer: StreamProducer,
    token: string,
    gateway: GatewayContext,
    call: ModelCall,
  ) {
    this.reply = reply;
    this.wire = wire;
    this.producer = producer;
    this.token = token;
    this.gateway = gateway;
    this.call = call;
  }

  /** Whether the response has opened (its first bytes are out): a failure now goes in the stream. */
  get opened(): boolean {
    return this.sse !== undefined;
  }

  /** Writes SSE text to the client (opening the response first); a promise only while the client is slow. */
  write(text: string): Promise<void> | undefined {
    if (this.sse === undefined) {
      this.sse = openEventStream(this.reply, this.gateway.pingIntervalMs, {
        id: this.producer.id,
        headers: { ...resumeHeaders(this.producer, this.token), 'sluice-relay': this.relayName },
      });
      this.call.telemetry.relay?.(this.relayName);
    }
    return this.sse.writeText(text);
  }

  /** Logs and writes each batch of events, in the wire's encoding. */
  async relay(batches: AsyncIterable<readonly StreamEvent[]>): Promise<void> {
    const { producer, wire } = this;
    for await (const batch of batches) {
      const entry = producer.logBatch(batch);
      // Logged first, then sent: a client never holds an event that a resume or a takeover lacks.
      const logging = producer.logged();
      if (logging) await logging;
      const slowClient = this.write(wire.encode(entry, wire.needsEvents ? batch : undefined));
      if (slowClient) await slowClient;
    }
  }

  /** The answer is complete: the trailer, the end of the response, and the log's finish. */
  async complete(answer: Message | undefined, usage?: Usage): Promise<void> {
    // A cut answer ends with an error, never with the trailer that says it is complete.
    this.wire.assertComplete?.();
    this.write(this.wire.trailer ?? '');
    this.sse?.end();
    await this.producer.finish(answer, usage);
  }

  /**
   * Ends the stream with a failure: logged and written as its error event, or, cut by a
   * shutdown with a shared store after the response opened, its lease released for another
   * instance. Throws the error for the route (which answers it when the response is not open).
   */
  async fail(error: unknown): Promise<never> {
    const { call, gateway, producer, sse } = this;
    const cut = cutReason(call);
    if (cut instanceof SluiceError && gateway.streams.shared && sse) {
      // Shutdown with a shared store: the answer is not over, another instance may continue it.
      await producer.release();
      this.reply.raw.destroy();
      throw cut;
    }
    const sluice = errorForCaller(cut instanceof SluiceError ? cut : (stoppedError(producer) ?? error));
    const errorEntry = await producer.fail(sluice.type, sluice.message);
    if (!sse) throw error;
    sse.writeText(this.wire.errorText(sluice, errorEntry));
    sse.end();
    throw sluice;
  }
}

/** The error a stream stopped by its own generation's abort ends with: why, in the reader's words. */
export function stoppedError(producer: StreamProducer): AbortError | undefined {
  const reason = producer.generation.signal.reason;
  if (!(reason instanceof GenerationStopped)) return undefined;
  return new AbortError(`The answer was stopped: ${reason.message}. Start a new request for another.`);
}

import type { FastifyReply } from 'fastify';
import { AbortError, SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import type { ModelCall } from '../routes/model-call.ts';
import { cutReason } from '../routes/model-call.ts';
import { openEventStream, type SseResponse } from '../sse-response.ts';
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
 * aborted or the returned release is called.
 */
export function trackGeneration(gateway: GatewayContext, producer: StreamProducer): () => void {
  const release = gateway.inFlight.track(producer.generation);
  producer.generation.signal.addEventListener('abort', release, { once: true });
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
  let sse: SseResponse | undefined;
  const open = () =>
    openEventStream(reply, gateway.pingIntervalMs, {
      id: producer.id,
      headers: resumeHeaders(producer, token),
    });
  try {
    for await (const batch of batches) {
      const entry = producer.logBatch(batch);
      // Logged first, then sent: a client never holds an event that a resume or a takeover lacks.
      await producer.logged();
      const text = wire.encode(entry, wire.needsEvents ? batch : undefined);
      sse ??= open();
      const slowClient = sse.writeText(text);
      if (slowClient) await slowClient;
    }
    // A cut answer ends with an error, never with the trailer that says it is complete.
    wire.assertComplete?.();
    sse ??= open();
    if (wire.trailer !== undefined) sse.writeText(wire.trailer);
    sse.end();
    await producer.finish(call.answer);
  } catch (error) {
    const cut = cutReason(call);
    if (cut instanceof SluiceError && gateway.streams.shared && sse) {
      // Shutdown with a shared store: the answer is not over, another instance may continue it.
      await producer.release();
      reply.raw.destroy();
      throw cut;
    }
    const sluice = errorForCaller(cut instanceof SluiceError ? cut : (stoppedError(producer) ?? error));
    const errorEntry = await producer.fail(sluice.type, sluice.message);
    if (!sse) throw error;
    sse.writeText(wire.errorText(sluice, errorEntry));
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

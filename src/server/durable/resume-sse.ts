import type { FastifyReply } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import { openEventStream } from '../sse-response.ts';
import { decodeEntries } from '../streams/entry.ts';
import type { StreamInfo } from '../streams/types.ts';
import { recordOf } from './stream-record.ts';
import { takeOver } from './takeover.ts';
import { type SseWire, wireFor } from './wire.ts';

/**
 * Resumes an SSE stream after event `after`, in its wire format: what the client missed,
 * then live to the end. Anthropic's wire is the log's bytes as they are; OpenAI's replays the
 * events through a fresh encoder from the start (its chunks depend on what came before) and
 * writes only those after `after`. A reader already at the end of an ended stream gets 204,
 * which also tells an EventSource not to reconnect.
 */
export async function resumeSse(
  reply: FastifyReply,
  gateway: GatewayContext,
  info: StreamInfo,
  after: number,
  /** The encoder to replay with (the Responses route's, which skips by sequence number); the stream's own by default. */
  encoder?: SseWire,
): Promise<FastifyReply> {
  const record = recordOf(info.request);
  const wire = encoder ?? wireFor(info.wire, record?.openai, record?.responses);
  if (!wire) throw new Error(`Stream ${info.id} has no encoder for its wire ${info.wire}.`);
  if (info.status !== 'running' && after >= info.lastSeq) return reply.code(204).send();
  let producer = gateway.streams.producer(info.id);
  // A reader here keeps a detached generation alive.
  producer?.attachReader();
  // The producer died (its lease lapsed while this reader waited): this instance continues it.
  const onLeaseLapsed = (lapsed: StreamInfo) => {
    takeOver(gateway, lapsed).then(
      (taken) => {
        if (!taken || producer) return;
        producer = taken;
        if (sse.closed.aborted) return;
        taken.attachReader();
      },
      (error: unknown) =>
        gateway.streams.warn(`stream ${info.id}: takeover failed: ${(error as Error).message}`),
    );
  };
  const sse = openEventStream(reply, gateway.pingIntervalMs, { id: info.id });
  const log = gateway.streams.log;
  try {
    const from = wire.needsEvents ? 0 : after;
    for await (const entry of log.read(info.id, { after: from, signal: sse.closed, onLeaseLapsed })) {
      const text = wire.needsEvents ? wire.encode(entry, decodeEntries([entry]), after) : entry.data;
      const slow = sse.writeText(text);
      if (slow) await slow;
    }
    if (wire.trailer !== undefined && (await log.lookup(info.id))?.status === 'finished') {
      sse.writeText(wire.trailer);
    }
  } catch (error) {
    // A reader that left, or (OpenAI) the logged error event, which the wire writes its own way.
    if (!sse.closed.aborted)
      sse.writeText(wire.errorText(errorForCaller(error), { first: 0, last: 0, data: '' }));
  } finally {
    sse.end();
    producer?.detachReader(gateway.streams.detachGraceMs);
  }
  return reply;
}

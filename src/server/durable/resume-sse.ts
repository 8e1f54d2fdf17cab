import type { FastifyReply } from 'fastify';
import { errorFromEvent } from '../../protocol/errors.ts';
import type { ErrorEvent } from '../../protocol/events.ts';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import { openEventStream } from '../sse-response.ts';
import { decodeEntries, encodeBatch } from '../streams/entry.ts';
import type { StreamInfo } from '../streams/types.ts';
import { enterAsReader } from './reader-presence.ts';
import { recordOf } from './stream-record.ts';
import { takeOver } from './takeover.ts';
import { type SseWire, wireFor } from './wire.ts';

/** How a logged error event's SSE text begins, after its `id:` line. */
const ERROR_EVENT_LINE = '\nevent: error\n';

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
  // A reader, here or on another instance, keeps a detached generation alive.
  const presence = enterAsReader(gateway.streams, info.id, info.status === 'running');
  // The producer died (its lease lapsed while this reader waited): this instance continues it.
  const onLeaseLapsed = (lapsed: StreamInfo) => {
    takeOver(gateway, lapsed).then(
      (taken) => {
        if (taken) presence.adopt(taken);
      },
      (error: unknown) =>
        gateway.streams.warn(`stream ${info.id}: takeover failed: ${(error as Error).message}`),
    );
  };
  const sse = openEventStream(reply, gateway.pingIntervalMs, { id: info.id });
  // Nobody holds the lease of a running stream (its producer released it at shutdown, or died
  // before this reader came): continue it now rather than after a lease period of waiting.
  if (info.status === 'running' && !info.lease && !gateway.streams.producer(info.id)) onLeaseLapsed(info);
  const log = gateway.streams.log;
  try {
    const from = wire.needsEvents ? 0 : after;
    // The stream as looked up by the route: the read starts without a round trip of its own.
    const reading = log.read(info.id, { after: from, signal: sse.closed, onLeaseLapsed, info });
    let errorReplayed = false;
    for await (const entry of reading) {
      const text = wire.needsEvents ? wire.encode(entry, decodeEntries([entry]), after) : entry.data;
      errorReplayed ||= entry.data.includes(ERROR_EVENT_LINE);
      const slow = sse.writeText(text);
      if (slow) await slow;
    }
    const ended = await log.lookup(info.id);
    if (ended?.status === 'finished' && wire.trailer !== undefined) sse.writeText(wire.trailer);
    if (ended?.status === 'failed' && ended.error && !errorReplayed) {
      // Failed with no error event in the log (its log was away for part of it): the reader
      // still ends with the stream's error, never with what looks like a whole answer.
      const event: ErrorEvent = { type: 'error', error: { ...ended.error } };
      sse.writeText(
        wire.errorText(errorForCaller(errorFromEvent(event)), encodeBatch(ended.lastSeq + 1, [event])),
      );
    }
  } catch (error) {
    // A reader that left, or (OpenAI) the logged error event, which the wire writes its own way.
    if (!sse.closed.aborted)
      sse.writeText(wire.errorText(errorForCaller(error), { first: 0, last: 0, data: '' }));
  } finally {
    sse.end();
    presence.leave();
  }
  return reply;
}

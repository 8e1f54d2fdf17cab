import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../../protocol/errors.ts';
import { MessageAssembler } from '../../stream/assemble.ts';
import { admittedByToken, callerOf, ownerOf, STREAM_PATH } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import { anthropicErrorBody, errorForCaller } from '../errors.ts';
import { decodeEntries } from '../streams/entry.ts';
import { StreamNotFoundError } from '../streams/errors.ts';
import type { LogEntry, LookupOptions, StreamInfo } from '../streams/types.ts';
import type { RequestTelemetry } from '../telemetry.ts';
import { resumeSse } from './resume-sse.ts';
import { resumeText } from './resume-text.ts';
import { tokenMatches } from './resume-token.ts';
import { recordOf } from './stream-record.ts';

interface StreamQuery {
  token?: string;
  after?: string;
  offset?: string;
}

/**
 * `GET /v1/streams/{id}` (resume, or the stream's status as JSON) and `DELETE` (cancel the
 * generation). Inside the API plugin: the caller's key must be the one that started the
 * stream, or the request carries the stream's resume token (admitted without a key). An
 * unknown, expired or another key's stream is one and the same 404.
 */
export function registerStreamsRoutes(api: FastifyInstance, gateway: GatewayContext): void {
  gateway.errorShapes.register('/v1/streams', anthropicErrorBody);
  api.get(STREAM_PATH, (request, reply) =>
    logged(gateway, request, reply, async (telemetry) => {
      const query = request.query as StreamQuery;
      const json = wantsJson(request);
      const lastEventId = request.headers['last-event-id'];
      // EventSource sends Last-Event-ID on its own reconnects: it wins over the URL's `after`.
      const after =
        nonNegative(typeof lastEventId === 'string' ? lastEventId : undefined, 'Last-Event-ID') ??
        nonNegative(query.after, 'after') ??
        0;
      // An SSE resume has the entries after `after` read with the lookup: one round trip, not two.
      const info = await authorizedStream(gateway, request, json ? {} : { readAfter: after });
      modelOf(info, telemetry);
      if (json) return reply.send(await statusOf(gateway, info));
      const log = gateway.streams.log;
      if (info.wire === 'text') {
        return resumeText(reply, gateway, info, nonNegative(query.offset, 'offset') ?? 0, log);
      }
      return resumeSse(reply, gateway, info, after);
    }),
  );

  api.delete(STREAM_PATH, (request, reply) =>
    logged(gateway, request, reply, async (telemetry) => {
      const info = await authorizedStream(gateway, request);
      modelOf(info, telemetry);
      if (info.status !== 'running') return reply.code(204).send();
      // Here at once; elsewhere through the log (the producer hears it by message, or at its next renewal).
      gateway.streams.producer(info.id)?.cancel();
      await gateway.streams.log.requestCancel(info.id);
      return reply.code(202).send({ id: info.id, status: 'cancelling' });
    }),
  );
}

/**
 * Runs a streams request with its log line and metrics, as the model routes have theirs: the
 * status it answered (499 when a reader left before the end), or the error it was refused with.
 */
async function logged(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: (telemetry: RequestTelemetry) => Promise<FastifyReply>,
): Promise<FastifyReply> {
  const resuming = request.method === 'GET' && !wantsJson(request);
  const telemetry = gateway.telemetry.start(STREAM_PATH, callerOf(request), resuming);
  try {
    const answered = await handle(telemetry);
    const left = reply.raw.destroyed && !reply.raw.writableFinished;
    telemetry.finish(left ? 499 : reply.statusCode);
    return answered;
  } catch (error) {
    const sluice = errorForCaller(error);
    telemetry.finish(sluice.status, sluice);
    throw error;
  }
}

/** The stream's model, for its log line and metrics. */
function modelOf(info: StreamInfo, telemetry: RequestTelemetry): void {
  const model = (recordOf(info.request)?.params as { model?: unknown } | undefined)?.model;
  if (typeof model === 'string') telemetry.model(model);
}

/** The stream, if the caller may see it; one StreamNotFoundError otherwise. */
async function authorizedStream(
  gateway: GatewayContext,
  request: FastifyRequest,
  lookup: LookupOptions = {},
): Promise<StreamInfo> {
  const { id } = request.params as { id: string };
  const { token } = request.query as StreamQuery;
  const info = await gateway.streams.log.lookup(id, lookup);
  const record = info && recordOf(info.request);
  const hasToken = typeof token === 'string';
  const byToken = hasToken && record !== undefined && tokenMatches(record.tokenDigest, token);
  // A token that is given must be this stream's, with a key or without one (a keyless gateway too).
  const byKey = !hasToken && !admittedByToken(request) && info?.ownerKeyHash === ownerOf(request);
  if (info && (byToken || byKey)) return info;
  // A wrong token is a failed attempt at a secret, as a wrong key is.
  if (admittedByToken(request)) gateway.authFailures.recordFailure(request.ip);
  throw new StreamNotFoundError(id);
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/event-stream');
}

/** The status body: the final message and usage when done, the usage so far otherwise. */
async function statusOf(gateway: GatewayContext, info: StreamInfo): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {
    id: info.id,
    status: info.status,
    wire: info.wire,
    created: new Date(info.createdAt).toISOString(),
    last_event_id: info.lastSeq,
    attempts: info.attempts,
  };
  if (info.final?.message) {
    body.message = info.final.message;
    body.usage = info.final.usage;
  } else {
    // A stream whose text was passed through, or one still running: the message from its events.
    const entries: LogEntry[] = [];
    for await (const entry of gateway.streams.log.read(info.id, { follow: false })) entries.push(entry);
    const assembler = new MessageAssembler();
    for (const event of decodeEntries(entries)) if (event.type !== 'error') assembler.apply(event);
    const partial = assembler.partialMessage();
    if (info.final && partial) body.message = partial;
    if (info.final?.usage) body.usage = info.final.usage;
    else if (partial) body.usage = partial.usage;
  }
  if (info.error) body.error = info.error;
  return body;
}

function nonNegative(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidRequestError(`${name} must be a non-negative integer (an event id or a byte count).`);
  }
  return Number(value);
}

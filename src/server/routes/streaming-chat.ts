import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod/v4';
import { InvalidRequestError, SluiceError } from '../../protocol/errors.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { ownerOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import type { Dispatcher } from '../dispatcher.ts';
import type { StreamProducer } from '../durable/producer.ts';
import { bindGeneration, driveCall, resumeHeaders, stoppedError } from '../durable/relay.ts';
import { TextEvents } from '../durable/text-events.ts';
import { errorForCaller, isInternal, sendError } from '../errors.ts';
import type { Router } from '../router.ts';
import { openTextResponse, type TextResponse } from '../text-response.ts';
import { publicUpstreamError } from '../upstream-errors.ts';
import { beginModelCall, cutReason, type ModelCall } from './model-call.ts';

// Replaced by the generation's signal once the answer is logged.
const NOT_YET = new AbortController().signal;

export const StreamingChatBodySchema = z.object({ request: z.string() });

/** One failed request, for the gateway's log: the error's type and message, never a stack. */
export interface StreamingChatLogEntry {
  level: 'error';
  /** The route it failed on, or CLASSIFYING when the classifier failed. */
  route: string;
  error: { type: string; message: string };
}

export interface StreamingChatOptions {
  log?: (entry: StreamingChatLogEntry) => void;
}

/** The `route` of a log entry when classification itself failed (route names cannot contain parentheses). */
export const CLASSIFYING = '(classifier)';

/** The path, also the `route` of this endpoint's telemetry. */
export const STREAMING_CHAT_PATH = '/streaming_chat';

interface AnswerDeps {
  gateway: GatewayContext;
  router: Router;
  dispatcher: Dispatcher;
  call: ModelCall;
  log: StreamingChatOptions['log'];
  durable: { producer: StreamProducer; token: string; events: TextEvents };
}

/**
 * `POST /streaming_chat` with `{"request": "..."}`: the request is classified, dispatched to
 * its route's handler, and the handler's text streams back as chunked `text/plain`, each
 * chunk flushed as it is produced. A failure before the first chunk is a JSON error with its
 * status; after it, the status is already sent, so a marker line ends the stream. The
 * classifier's and the handlers' model calls are the gateway's one model call, made for this
 * request: its fallbacks, telemetry and token counts.
 */
export function registerStreamingChatRoute(
  api: FastifyInstance,
  gateway: GatewayContext,
  router: Router,
  dispatcher: Dispatcher,
  options: StreamingChatOptions = {},
): void {
  api.post(STREAMING_CHAT_PATH, async (request, reply) => {
    const call = beginModelCall(gateway, STREAMING_CHAT_PATH, request, reply, true, NOT_YET);
    let text: string;
    try {
      text = parseStreamingChatBody(request.body);
    } catch (error) {
      // The caller's mistake: an HTTP error, but nothing for the error log.
      const sluice = errorForCaller(error);
      call.telemetry.finish(sluice.status, sluice);
      throw sluice;
    }
    // Logged like the model APIs' answers, so a client resumes it with ?offset=.
    let started: Awaited<ReturnType<typeof gateway.streams.start>>;
    try {
      started = await gateway.streams.start({
        wire: 'text',
        ownerKeyHash: ownerOf(request),
        params: { request: text },
      });
    } catch (error) {
      // The log's store is away: a retryable 503, counted like any failed request.
      const sluice = errorForCaller(error);
      call.telemetry.finish(sluice.status, sluice);
      throw sluice;
    }
    const { producer, token } = started;
    driveCall(gateway, call, producer);
    bindGeneration(gateway, reply, producer);
    const durable = { producer, token, events: new TextEvents('streaming_chat') };
    return streamAnswer(reply, text, { gateway, router, dispatcher, call, log: options.log, durable });
  });
}

async function streamAnswer(reply: FastifyReply, text: string, deps: AnswerDeps): Promise<FastifyReply> {
  const { call, durable } = deps;
  const { producer } = durable;
  let route = CLASSIFYING;
  let response: TextResponse | undefined;
  try {
    route = await deps.router.classify(text, call);
    const model = deps.dispatcher.modelOf(route);
    if (model) call.telemetry.model(model);
    for await (const chunk of deps.dispatcher.dispatch(route, text, call)) {
      // Leaving the loop returns the handler's generator, so its `finally` runs.
      if (call.signal.aborted) break;
      if (chunk === '') continue;
      producer.logBatch(durable.events.chunk(chunk));
      // Logged first, then sent: a resume's byte offset always falls inside the log.
      const logging = producer.logged();
      if (logging) await logging;
      if (!response) {
        response = openTextResponse(reply, {
          'sluice-route': route,
          ...resumeHeaders(producer, durable.token),
        });
        call.telemetry.firstToken();
      }
      await response.write(chunk);
    }
    // A handler may just stop when its signal aborts; the answer is cut short all the same.
    call.signal.throwIfAborted();
    producer.logBatch(durable.events.end());
    (
      response ??
      openTextResponse(reply, { 'sluice-route': route, ...resumeHeaders(producer, durable.token) })
    ).end();
    await producer.finish();
    call.telemetry.finish(200);
  } catch (thrown) {
    const cut = cutReason(call);
    if (cut === 'client') {
      // No failure of the gateway, and no one left to tell (a reader resuming sees it ended).
      const stopped = stoppedError(producer);
      await producer.fail('api_error', stopped?.message ?? 'The answer was stopped.');
      call.telemetry.finish(499);
      return abandon(reply);
    }
    if (cut instanceof SluiceError && deps.gateway.streams.shared && response) {
      // Shutdown with a shared store: released for another instance, nothing written.
      await producer.release();
      call.telemetry.finish(cut.status, cut);
      return abandon(reply);
    }
    // On shutdown the handler fails with an abort; the reason says why (and to retry).
    const error = cut ?? thrown;
    const sluice = errorForCaller(publicUpstreamError(error, deps.gateway.scrubber));
    deps.log?.({ level: 'error', route, error: { type: sluice.type, message: logMessage(error) } });
    call.telemetry.finish(sluice.status, sluice);
    await producer.fail(sluice.type, sluice.message);
    if (!response) {
      // Unforeseen failures go to the error handler, which logs their cause with the request id.
      if (isInternal(error)) throw error;
      return sendError(reply, sluice);
    }
    response.end(errorMarker(sluice));
  }
  return reply;
}

/** The request text; missing or not a string names the field, blank is refused. */
export function parseStreamingChatBody(body: unknown): string {
  const { request } = parseRequestBody(StreamingChatBodySchema, body);
  if (request.trim() === '')
    throw new InvalidRequestError('request cannot be empty: send the text to answer.');
  return request;
}

/** The line that ends a stream that failed after its first chunk. */
export function errorMarker(error: SluiceError): string {
  return `\n[error: ${error.type}: ${error.message}]\n`;
}

/** The operator sees the real message (the caller only ever sees errorForCaller's); no stack either way. */
function logMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function abandon(reply: FastifyReply): FastifyReply {
  if (!reply.sent) reply.hijack();
  reply.raw.destroy();
  return reply;
}

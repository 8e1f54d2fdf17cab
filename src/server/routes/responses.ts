import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  errorFromEvent,
  IncompleteStreamError,
  InvalidRequestError,
  SluiceError,
} from '../../protocol/errors.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { responsesErrorBody } from '../../providers/openai-responses/server/error-body.ts';
import { ResponsesEncoder } from '../../providers/openai-responses/server/events.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';
import {
  fromResponsesRequest,
  parseResponsesRequest,
} from '../../providers/openai-responses/server/request.ts';
import type { ResponsesRequest } from '../../providers/openai-responses/wire.ts';
import { batchesOf } from '../../stream/batches.ts';
import { callerOf, ownerOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import type { StreamProducer } from '../durable/producer.ts';
import { bindGeneration, relayDurably, stoppedError } from '../durable/relay.ts';
import { resumeSse } from '../durable/resume-sse.ts';
import { responsesWire } from '../durable/wire.ts';
import { errorForCaller } from '../errors.ts';
import { beginModelCall, callModel, cutReason, detachedModelCall, type ModelCall } from './model-call.ts';
import { historyOf, requireStoredResponse, storedResponseObject } from './responses-store.ts';

const PATH = '/v1/responses';
// Replaced by the generation's signal before the model is called.
const NOT_YET = new AbortController().signal;

/**
 * The OpenAI Responses API in front of any Sluice model, translated at this edge like the chat
 * completions route: `POST /v1/responses` (streaming and not), and the stored responses
 * (`GET`, `DELETE`, `POST …/cancel`), which are durable streams of the `responses` wire: a
 * stored response is its logged canonical events, its Responses events derived from them.
 */
export function registerResponsesRoutes(api: FastifyInstance, gateway: GatewayContext): void {
  gateway.errorShapes.register(PATH, responsesErrorBody);
  api.post(PATH, async (request, reply) => {
    const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
    const call = beginModelCall(gateway, PATH, request, reply, streaming, streaming ? NOT_YET : undefined);
    try {
      const body = parseResponsesRequest(request.body);
      const { params, structuredTool } = fromResponsesRequest(body, await historyOf(gateway, request, body));
      const options: ResponsesWireOptions = {
        id: `resp_${randomUUID().replaceAll('-', '')}`,
        createdAt: Math.floor(Date.now() / 1000),
        model: body.model,
        echo: echoOf(body),
      };
      if (structuredTool) options.structuredTool = structuredTool;
      if (body.background === true)
        await startInBackground(gateway, request, reply, params, options, streaming);
      else if (streaming) await streamResponse(gateway, request, reply, call, params, options);
      else await answerWhole(gateway, request, reply, call, params, options);
      call.telemetry.finish(cutReason(call) === 'client' ? 499 : 200);
      return reply;
    } catch (error) {
      const cut = cutReason(call);
      const failure = cut instanceof SluiceError ? cut : error;
      const sluice = errorForCaller(failure);
      call.telemetry.finish(cut === 'client' ? 499 : sluice.status, sluice);
      if (reply.sent) return reply;
      throw failure;
    }
  });

  api.get(`${PATH}/:id`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    const query = request.query as { stream?: string; starting_after?: string };
    if (query.stream !== 'true') return reply.send(await storedResponseObject(gateway, stored));
    const startingAfter = sequenceNumber(query.starting_after);
    return resumeSse(reply, gateway, stored.info, 0, responsesWire(stored.options, startingAfter));
  });

  api.post(`${PATH}/:id/cancel`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    const running = await cancel(gateway, stored.info.id, stored.info.status);
    const response = await storedResponseObject(gateway, stored);
    // The generation stops at its next event; the response is cancelled from now on.
    return reply.send(running ? { ...response, status: 'cancelled' } : response);
  });

  api.delete(`${PATH}/:id`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    await cancel(gateway, stored.info.id, stored.info.status);
    await gateway.streams.log.delete(stored.info.id);
    return reply.send({ id: stored.info.id, object: 'response', deleted: true });
  });
}

/** A streamed response: logged as a durable stream whose id is the response's, relayed as Responses events. */
async function streamResponse(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: ModelCall,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
): Promise<void> {
  const wire = responsesWire(options);
  const { producer, token } = await startLogged(gateway, request, params, options);
  call.signal = producer.generation.signal;
  bindGeneration(gateway, reply, producer);
  const events = callModel(gateway, call, params);
  await relayDurably(reply, batchesOf(events), wire, producer, token, gateway, call);
}

/**
 * A non-streaming response: the events are logged as they come when the response is stored
 * (so it can be retrieved, and continued by `previous_response_id`), and the answer is the
 * encoder's response after the last of them, the very object a retrieval returns.
 */
async function answerWhole(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: ModelCall,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
): Promise<void> {
  let producer: StreamProducer | undefined;
  if (options.echo.store !== false) {
    producer = (await startLogged(gateway, request, params, options)).producer;
    // A cancel stops it as it stops a stream; the client leaving stops it too.
    call.signal = AbortSignal.any([call.signal, producer.generation.signal]);
  }
  const encoder = new ResponsesEncoder(options);
  try {
    for await (const batch of batchesOf(callModel(gateway, call, params))) {
      producer?.logBatch(batch);
      for (const event of batch) {
        if (event.type === 'error') throw errorFromEvent(event);
        encoder.apply(event);
      }
    }
    if (!encoder.isDone)
      throw new IncompleteStreamError(
        'The upstream stream ended before message_stop; the answer is incomplete.',
      );
    await producer?.finish(call.answer);
  } catch (error) {
    const sluice = errorForCaller((producer && stoppedError(producer)) ?? error);
    await producer?.fail(sluice.type, sluice.message);
    throw sluice;
  }
  reply.send(encoder.response);
}

/**
 * `background: true`: the answer is generated to its end whoever reads it (no detach grace),
 * logged as any stored response. The caller gets the response at once (in progress), or, when
 * streaming, reads the log live as any resuming reader does; leaving stops only its reading.
 */
async function startInBackground(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
  streaming: boolean,
): Promise<void> {
  if (options.echo.store === false) {
    throw new InvalidRequestError('background: a background response must be stored; leave store at true.');
  }
  const { producer } = await startLogged(gateway, request, params, options);
  const release = gateway.inFlight.track(producer.generation);
  producer.generation.signal.addEventListener('abort', release, { once: true });
  const call = detachedModelCall(
    producer.generation.signal,
    gateway.telemetry.start(PATH, callerOf(request), true),
  );
  void generate(gateway, producer, call, params).finally(release);
  if (!streaming) {
    reply.send(new ResponsesEncoder(options).response);
    return;
  }
  const info = await gateway.streams.log.lookup(options.id);
  if (!info)
    throw new IncompleteStreamError(
      'The background response was lost from the stream log before it could be read.',
    );
  await resumeSse(reply, gateway, info, 0, responsesWire(options));
}

/** A background generation: every batch logged, the end logged as a finish or a failure. */
async function generate(
  gateway: GatewayContext,
  producer: StreamProducer,
  call: ModelCall,
  params: MessageCreateParams,
): Promise<void> {
  try {
    let complete = false;
    for await (const batch of batchesOf(callModel(gateway, call, params))) {
      producer.logBatch(batch);
      complete ||= batch.some((event) => event.type === 'message_stop');
    }
    if (call.signal.aborted) throw call.signal.reason;
    if (!complete)
      throw new IncompleteStreamError(
        'The upstream stream ended before message_stop; the answer is incomplete.',
      );
    await producer.finish(call.answer);
    call.telemetry.finish(200);
  } catch (error) {
    const sluice = errorForCaller(stoppedError(producer) ?? error);
    await producer.fail(sluice.type, sluice.message).catch(() => {});
    call.telemetry.finish(sluice.status, sluice);
  }
}

/** A response's durable stream: its id the response's, kept `responses.ttlSeconds`. */
function startLogged(
  gateway: GatewayContext,
  request: FastifyRequest,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
) {
  return gateway.streams.start({
    id: options.id,
    wire: 'responses',
    ownerKeyHash: ownerOf(request),
    params,
    responses: options,
    ttlSeconds: gateway.responsesTtlSeconds,
  });
}

/** Cancels a running response wherever it generates; whether it was running. */
async function cancel(gateway: GatewayContext, id: string, status: string): Promise<boolean> {
  if (status !== 'running') return false;
  gateway.streams.producer(id)?.cancel();
  await gateway.streams.log.requestCancel(id);
  return true;
}

/** The request's fields a response reports back, with OpenAI's defaults. */
function echoOf(body: ResponsesRequest): Record<string, unknown> {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    background: body.background ?? false,
  };
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function sequenceNumber(value: string | undefined): number {
  if (value === undefined || value === '') return -1;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidRequestError(
      'starting_after: expected a non-negative integer, the sequence_number of the last event received.',
    );
  }
  return Number(value);
}

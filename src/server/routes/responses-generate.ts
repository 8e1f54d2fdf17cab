import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorFromEvent, IncompleteStreamError, InvalidRequestError } from '../../protocol/errors.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { ResponsesEncoder } from '../../providers/openai-responses/server/events.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';
import { batchesOf } from '../../stream/batches.ts';
import { ownerOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import type { StreamProducer } from '../durable/producer.ts';
import { bindGeneration, driveCall, relayDurably, stoppedError, trackGeneration } from '../durable/relay.ts';
import { resumeSse } from '../durable/resume-sse.ts';
import { responsesWire } from '../durable/wire.ts';
import { errorForCaller } from '../errors.ts';
import { callModel, type ModelCall } from './model-call.ts';

// The three ways a `/v1/responses` answer is generated (streamed, whole, in the background),
// each logged as the response's durable stream.

/** A streamed response: logged as a durable stream whose id is the response's, relayed as Responses events. */
export async function streamResponse(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: ModelCall,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
): Promise<void> {
  const wire = responsesWire(options);
  const { producer, token } = await startLogged(gateway, request, params, options);
  driveCall(gateway, call, producer);
  bindGeneration(gateway, reply, producer);
  const events = callModel(gateway, call, params);
  await relayDurably(reply, batchesOf(events), wire, producer, token, gateway, call);
}

/**
 * A non-streaming response: the events are logged as they come when the response is stored
 * (so it can be retrieved, and continued by `previous_response_id`), and the answer is the
 * encoder's response after the last of them, the very object a retrieval returns.
 */
export async function answerWhole(
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
    const clientSignal = call.signal;
    driveCall(gateway, call, producer);
    // A cancel stops it as it stops a stream; the client leaving stops it too.
    call.signal = AbortSignal.any([clientSignal, producer.generation.signal]);
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
export async function startInBackground(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: ModelCall,
  params: MessageCreateParams,
  options: ResponsesWireOptions,
  streaming: boolean,
): Promise<void> {
  if (options.echo.store === false) {
    throw new InvalidRequestError('background: a background response must be stored; leave store at true.');
  }
  const { producer } = await startLogged(gateway, request, params, options);
  const release = trackGeneration(gateway, producer);
  // The generation reads for itself: readers coming and going never leave it unread, so no
  // detach grace ever stops it.
  producer.attachReader();
  // The request's telemetry follows the generation, which finishes it, not the HTTP answer.
  driveCall(gateway, call, producer);
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

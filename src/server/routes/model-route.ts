import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Message } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { batchesOf } from '../../stream/batches.ts';
import { MessageStream } from '../../stream/message-stream.ts';
import { ownerOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import { bindGeneration, DurableReply, driveCall, relayDurably } from '../durable/relay.ts';
import type { SseWire } from '../durable/wire.ts';
import type { ErrorBodyOf } from '../errors.ts';
import { passThroughPlan, relayPassThrough } from '../relay/fast-relay.ts';
import { beginModelCall, callModel, cutReason, failModelCall } from './model-call.ts';

// Replaced by the generation's signal before the model is called.
const NOT_YET = new AbortController().signal;

/** A request body read as a Messages request, with whatever the route's encoders need besides. */
export interface ParsedModelRequest {
  params: MessageCreateParams;
  /** Headers for the upstream (`anthropic-beta`). */
  headers?: Record<string, string>;
}

export interface ModelRouteSpec<P extends ParsedModelRequest> {
  path: string;
  /** The body as a Messages request; throws InvalidRequestError naming the field. */
  parse(request: FastifyRequest): P;
  /** The complete answer, for a non-streaming request. */
  encodeMessage(message: Message, parsed: P): unknown;
  /** The stream's wire: how logged batches become this API's SSE, live and on a resume. */
  encodeStream(parsed: P): SseWire;
  /** The error body this API's clients read (also for errors before the route runs). */
  errorBody: ErrorBodyOf;
}

/**
 * A model API route: the body parsed, the one model call made (`callModel`), and the answer
 * encoded whole or streamed. A streamed response opens only with the first batch, so a
 * failure before the first byte is still a plain HTTP error with its status; after it, the
 * encoding's error text ends the stream. Errors go to the gateway's error handler, which
 * gives them this route's shape.
 */
export function modelRoute<P extends ParsedModelRequest>(
  api: FastifyInstance,
  gateway: GatewayContext,
  spec: ModelRouteSpec<P>,
): void {
  gateway.errorShapes.register(spec.path, spec.errorBody);
  api.post(spec.path, async (request, reply) => {
    const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
    // A streamed answer's signal is its generation's (set once the stream is logged): it may outlive the client.
    const call = beginModelCall(
      gateway,
      spec.path,
      request,
      reply,
      streaming,
      streaming ? NOT_YET : undefined,
    );
    try {
      const parsed = spec.parse(request);
      if (!streaming) {
        const events = callModel(gateway, call, parsed.params, parsed.headers);
        const message = await new MessageStream(() => events, { signal: call.signal }).finalMessage();
        call.telemetry.finish(200);
        return reply.send(spec.encodeMessage(message, parsed));
      }
      const wire = spec.encodeStream(parsed);
      const { producer, token } = await gateway.streams.start({
        wire: wire.wire,
        ownerKeyHash: ownerOf(request),
        params: parsed.params,
        openai: wire.openai,
      });
      driveCall(gateway, call, producer);
      bindGeneration(gateway, reply, producer);
      const passThrough = passThroughPlan(gateway, parsed.params, wire);
      if (passThrough) {
        const durable = new DurableReply(reply, wire, producer, token, gateway, call);
        await relayPassThrough(gateway, call, parsed.params, parsed.headers, passThrough, durable);
      } else {
        const events = callModel(gateway, call, parsed.params, parsed.headers);
        await relayDurably(reply, batchesOf(events), wire, producer, token, gateway, call);
      }
      call.telemetry.finish(cutReason(call) === 'client' ? 499 : 200);
      return reply;
    } catch (error) {
      return failModelCall(call, reply, error);
    }
  });
}

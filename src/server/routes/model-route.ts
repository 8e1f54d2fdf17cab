import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { Message } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import type { BatchedIterable } from '../../stream/batches.ts';
import { MessageStream } from '../../stream/message-stream.ts';
import type { GatewayContext } from '../context.ts';
import { type ErrorBodyOf, errorForCaller } from '../errors.ts';
import { openEventStream, type SseResponse } from '../sse-response.ts';
import { beginModelCall, callModel, cutReason, type ModelCall } from './model-call.ts';

/** A request body read as a Messages request, with whatever the route's encoders need besides. */
export interface ParsedModelRequest {
  params: MessageCreateParams;
  /** Headers for the upstream (`anthropic-beta`). */
  headers?: Record<string, string>;
}

/** How a stream goes out: batches of some item, each written at once, and what ends it. */
export interface StreamEncoding<T> {
  batches: AsyncIterable<readonly T[]>;
  /** Writes a batch; returns a promise only when the client is slow. */
  write(sse: SseResponse, batch: readonly T[]): Promise<void> | undefined;
  /** Written after the last batch (OpenAI's `[DONE]`). */
  trailer?: string;
  /** What ends a stream that failed after its first byte (the status is already sent). */
  errorText(error: SluiceError, sse: SseResponse): string;
}

export interface ModelRouteSpec<P extends ParsedModelRequest, T> {
  path: string;
  /** The body as a Messages request; throws InvalidRequestError naming the field. */
  parse(request: FastifyRequest): P;
  /** The complete answer, for a non-streaming request. */
  encodeMessage(message: Message, parsed: P): unknown;
  encodeStream(events: BatchedIterable<StreamEvent>, parsed: P): StreamEncoding<T>;
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
export function modelRoute<P extends ParsedModelRequest, T>(
  api: FastifyInstance,
  gateway: GatewayContext,
  spec: ModelRouteSpec<P, T>,
): void {
  gateway.errorShapes.register(spec.path, spec.errorBody);
  api.post(spec.path, async (request, reply) => {
    const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
    const call = beginModelCall(gateway, spec.path, request, reply, streaming);
    try {
      const parsed = spec.parse(request);
      const events = callModel(gateway, call, parsed.params, parsed.headers);
      if (!streaming) {
        const message = await new MessageStream(() => events, { signal: call.signal }).finalMessage();
        call.telemetry.finish(200);
        return reply.send(spec.encodeMessage(message, parsed));
      }
      await relay(reply, spec.encodeStream(events, parsed), gateway, call);
      call.telemetry.finish(cutReason(call) === 'client' ? 499 : 200);
      return reply;
    } catch (error) {
      const cut = cutReason(call);
      // Cut by the shutdown: its retryable error, whatever the abort looked like inside.
      const failure = cut instanceof SluiceError ? cut : error;
      const sluice = errorForCaller(failure);
      call.telemetry.finish(cut === 'client' ? 499 : sluice.status, sluice);
      // Once the stream is open, the error went to the client in the stream.
      if (reply.sent) return reply;
      throw failure;
    }
  });
}

async function relay<T>(
  reply: FastifyReply,
  encoding: StreamEncoding<T>,
  gateway: GatewayContext,
  call: ModelCall,
): Promise<void> {
  let sse: SseResponse | undefined;
  try {
    for await (const batch of encoding.batches) {
      sse ??= openEventStream(reply, gateway.pingIntervalMs);
      const slowClient = encoding.write(sse, batch);
      if (slowClient) await slowClient;
    }
    sse ??= openEventStream(reply, gateway.pingIntervalMs);
    if (encoding.trailer !== undefined) await sse.writeRaw(encoding.trailer);
    sse.end();
  } catch (error) {
    if (!sse) throw error;
    const cut = cutReason(call);
    const sluice = errorForCaller(cut instanceof SluiceError ? cut : error);
    if (!reply.raw.destroyed) reply.raw.write(encoding.errorText(sluice, sse));
    sse.end();
    throw sluice;
  }
}

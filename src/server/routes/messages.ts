import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StreamEvent } from '../../protocol/events.ts';
import { MessageCreateParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { batchesOf } from '../../stream/batches.ts';
import { MessageStream } from '../../stream/message-stream.ts';
import { encodeSSE } from '../../stream/sse.ts';
import { admit, type GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import { openEventStream, type SseResponse } from '../sse-response.ts';
import { beginModelCall, modelEvents } from './model-call.ts';

/** `POST /v1/messages`: the Anthropic Messages API, streaming and not, through the resilient stream. */
export function registerMessagesRoute(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/messages', async (request, reply) => {
    const call = beginModelCall(gateway, '/v1/messages', request, reply);
    const { streaming, telemetry, signal } = call;
    try {
      telemetry.key(await admit(gateway, request.headers, request.ip));
      const { stream: _stream, ...params } = parseRequestBody(MessageCreateParamsSchema, request.body);
      const events = modelEvents(gateway, call, params, passThroughHeaders(request));
      if (!streaming) {
        const message = await new MessageStream(() => events, { signal }).finalMessage();
        telemetry.finish(200);
        return reply.send(message);
      }
      await streamMessages(reply, events, gateway);
      telemetry.finish(signal.aborted ? 499 : 200);
      return reply;
    } catch (error) {
      const sluice = errorForCaller(error);
      telemetry.finish(signal.aborted ? 499 : sluice.status, sluice);
      // Once the stream is open, the error went to the client as an event.
      if (reply.sent) return reply;
      throw sluice;
    }
  });
}

/**
 * Streams the events as SSE. The response opens with the first batch, so a failure before
 * the first byte is still a plain HTTP error with its status; a failure after it is an
 * `error` event, and the stream ends.
 */
async function streamMessages(
  reply: FastifyReply,
  events: AsyncIterable<StreamEvent>,
  gateway: GatewayContext,
): Promise<void> {
  let sse: SseResponse | undefined;
  try {
    for await (const batch of batchesOf(events)) {
      sse ??= openEventStream(reply, gateway.pingIntervalMs);
      const slowClient = sse.write(batch);
      if (slowClient) await slowClient;
    }
    sse?.end();
  } catch (error) {
    if (!sse) throw error;
    const sluice = errorForCaller(error);
    if (!reply.raw.destroyed) {
      reply.raw.write(
        encodeSSE({ id: String(sse.lastEventId + 1), event: 'error', data: JSON.stringify(sluice.toBody()) }),
      );
    }
    sse.end();
    throw sluice;
  }
}

/** Headers a client may send that the upstream should see. */
function passThroughHeaders(request: FastifyRequest): Record<string, string> {
  const beta = request.headers['anthropic-beta'];
  return typeof beta === 'string' ? { 'anthropic-beta': beta } : {};
}

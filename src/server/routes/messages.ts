import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import { MessageCreateParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { resilientMessageStream, resilientStream } from '../../resilience/resilient-stream.ts';
import { batchesOf } from '../../stream/batches.ts';
import { encodeSSE } from '../../stream/sse.ts';
import type { GatewayContext } from '../context.ts';
import { toSluiceError } from '../errors.ts';
import { abortOnDisconnect, openEventStream, type SseResponse } from '../sse-response.ts';

/** `POST /v1/messages`: the Anthropic Messages API, streaming and not, through the resilient stream. */
export function registerMessagesRoute(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/messages', async (request, reply) => {
    gateway.apiKeys.check(request.headers);
    const body = parseRequestBody(MessageCreateParamsSchema, request.body);
    const { provider, model } = gateway.models.resolve(body.model);
    const { stream: streaming, ...params } = body;
    const upstream = { ...params, model };
    const headers = passThroughHeaders(request);
    const disconnected = abortOnDisconnect(reply);

    if (!streaming) {
      const message = await resilientMessageStream(provider, upstream, {
        policy: gateway.policy,
        signal: disconnected,
        headers,
      }).finalMessage();
      return reply.send(message);
    }
    await streamMessages(
      reply,
      resilientStream(provider, upstream, { policy: gateway.policy, signal: disconnected, headers }),
      gateway,
    );
    return reply;
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
      await sse.write(batch);
    }
    sse?.end();
  } catch (error) {
    if (!sse) throw error;
    if (!reply.raw.destroyed) reply.raw.write(errorEvent(toSluiceError(error), sse.lastEventId + 1));
    sse.end();
  }
}

function errorEvent(error: SluiceError, id: number): string {
  return encodeSSE({ id: String(id), event: 'error', data: JSON.stringify(error.toBody()) });
}

/** Headers a client may send that the upstream should see. */
function passThroughHeaders(request: FastifyRequest): Record<string, string> {
  const beta = request.headers['anthropic-beta'];
  return typeof beta === 'string' ? { 'anthropic-beta': beta } : {};
}

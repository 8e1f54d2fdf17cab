import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  encodeOpenAIChunk,
  eventsToOpenAIChunks,
  fromOpenAIRequest,
  messageToOpenAIResponse,
  OPENAI_STREAM_DONE,
  openAIErrorBody,
} from '../../providers/openai/from-openai.ts';
import { resilientMessageStream, resilientStream } from '../../resilience/resilient-stream.ts';
import type { GatewayContext } from '../context.ts';
import { toSluiceError } from '../errors.ts';
import { abortOnDisconnect, openEventStream } from '../sse-response.ts';

/**
 * `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of any Sluice model,
 * translated at this edge; errors in OpenAI's shape, as its SDK expects.
 */
export function registerChatCompletionsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    try {
      gateway.apiKeys.check(request.headers);
      const { request: params, includeUsage } = fromOpenAIRequest(request.body);
      const { provider, model } = gateway.models.resolve(params.model);
      const { stream: streaming, ...rest } = params;
      const upstream = { ...rest, model };
      const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
      const created = Math.floor(Date.now() / 1000);
      const signal = abortOnDisconnect(reply);
      if (!streaming) {
        const message = await resilientMessageStream(provider, upstream, {
          policy: gateway.policy,
          signal,
        }).finalMessage();
        return reply.send({ ...messageToOpenAIResponse(message, { id, created }), model: params.model });
      }
      const events = resilientStream(provider, upstream, { policy: gateway.policy, signal });
      await streamChunks(
        reply,
        eventsToOpenAIChunks(events, { id, model: params.model, created, includeUsage }),
        gateway,
      );
      return reply;
    } catch (error) {
      const sluice = toSluiceError(error);
      if (reply.sent) return reply;
      if (sluice.retryAfterMs !== undefined)
        reply.header('retry-after', String(Math.ceil(sluice.retryAfterMs / 1000)));
      return reply
        .code(sluice.status >= 400 && sluice.status < 600 ? sluice.status : 500)
        .send(openAIErrorBody(sluice));
    }
  });
}

/** Chunks as SSE, ending with `[DONE]`; a failure after the first chunk is an error data line and no `[DONE]`. */
async function streamChunks(
  reply: FastifyReply,
  chunks: AsyncIterable<object>,
  gateway: GatewayContext,
): Promise<void> {
  let stream: ReturnType<typeof openEventStream> | undefined;
  try {
    for await (const chunk of chunks) {
      stream ??= openEventStream(reply, gateway.pingIntervalMs);
      await stream.writeRaw(encodeOpenAIChunk(chunk as never));
    }
    stream ??= openEventStream(reply, gateway.pingIntervalMs);
    await stream.writeRaw(OPENAI_STREAM_DONE);
    stream.end();
  } catch (error) {
    if (!stream) throw error;
    await stream.writeRaw(`data: ${JSON.stringify(openAIErrorBody(toSluiceError(error)))}\n\n`);
    stream.end();
  }
}

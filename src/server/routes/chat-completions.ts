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
import { MessageStream } from '../../stream/message-stream.ts';
import { admit, type GatewayContext } from '../context.ts';
import { toSluiceError } from '../errors.ts';
import { fallbackStream } from '../fallbacks.ts';
import { openEventStream, requestSignal } from '../sse-response.ts';
import { firstTokenWatch, observed } from './telemetry-options.ts';

/**
 * `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of any Sluice model,
 * translated at this edge; errors in OpenAI's shape, as its SDK expects.
 */
export function registerChatCompletionsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
    const telemetry = gateway.telemetry.start('/v1/chat/completions', undefined, streaming);
    const signal = requestSignal(reply, gateway.shutdown);
    try {
      admit(gateway, request.headers, request.ip);
      const { request: params, includeUsage } = fromOpenAIRequest(request.body);
      const chain = gateway.models.resolveChain(params.model);
      telemetry.model(chain[0]!.ref);
      const { stream: _stream, ...rest } = params;
      const events = fallbackStream(chain, rest, observed(telemetry, signal, { policy: gateway.policy }));
      const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
      const created = Math.floor(Date.now() / 1000);
      if (!streaming) {
        const message = await new MessageStream(() => events, { signal }).finalMessage();
        telemetry.finish(200);
        return reply.send({ ...messageToOpenAIResponse(message, { id, created }), model: params.model });
      }
      const watch = firstTokenWatch(() => telemetry.firstToken());
      const watched = {
        [Symbol.asyncIterator]: async function* () {
          for await (const event of events) {
            watch([event]);
            yield event;
          }
        },
      };
      await streamChunks(
        reply,
        eventsToOpenAIChunks(watched, { id, model: params.model, created, includeUsage }),
        gateway,
      );
      telemetry.finish(signal.aborted ? 499 : 200);
      return reply;
    } catch (error) {
      const sluice = toSluiceError(error);
      telemetry.finish(signal.aborted ? 499 : sluice.status, sluice);
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
    throw error;
  }
}

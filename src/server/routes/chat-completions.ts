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
import { errorForCaller, sendError } from '../errors.ts';
import { openEventStream } from '../sse-response.ts';
import { beginModelCall, modelEvents } from './model-call.ts';

/**
 * `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of any Sluice model,
 * translated at this edge; errors in OpenAI's shape, as its SDK expects.
 */
export function registerChatCompletionsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const call = beginModelCall(gateway, '/v1/chat/completions', request, reply);
    const { streaming, telemetry, signal } = call;
    try {
      telemetry.key(await admit(gateway, request.headers, request.ip));
      const { request: params, includeUsage } = fromOpenAIRequest(request.body);
      const { stream: _stream, ...rest } = params;
      const events = modelEvents(gateway, call, rest);
      const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
      const created = Math.floor(Date.now() / 1000);
      if (!streaming) {
        const message = await new MessageStream(() => events, { signal }).finalMessage();
        telemetry.finish(200);
        return reply.send({ ...messageToOpenAIResponse(message, { id, created }), model: params.model });
      }
      await streamChunks(
        reply,
        eventsToOpenAIChunks(events, { id, model: params.model, created, includeUsage }),
        gateway,
      );
      telemetry.finish(signal.aborted ? 499 : 200);
      return reply;
    } catch (error) {
      const sluice = errorForCaller(error);
      telemetry.finish(signal.aborted ? 499 : sluice.status, sluice);
      if (reply.sent) return reply;
      return sendError(reply, sluice, openAIErrorBody(sluice));
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
    await stream.writeRaw(`data: ${JSON.stringify(openAIErrorBody(errorForCaller(error)))}\n\n`);
    stream.end();
    throw error;
  }
}

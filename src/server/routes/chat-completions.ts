import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { fromOpenAIRequest } from '../../providers/openai/server/request.ts';
import { messageToOpenAIResponse, openAIErrorBody } from '../../providers/openai/server/response.ts';
import {
  encodeOpenAIChunk,
  eventsToOpenAIChunks,
  OPENAI_STREAM_DONE,
} from '../../providers/openai/server/stream.ts';
import { batchesOf } from '../../stream/batches.ts';
import type { GatewayContext } from '../context.ts';
import { modelRoute } from './model-route.ts';

/**
 * `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of any Sluice model,
 * translated at this edge; errors in OpenAI's shape, as its SDK expects.
 */
export function registerChatCompletionsRoute(api: FastifyInstance, gateway: GatewayContext): void {
  modelRoute(api, gateway, {
    path: '/v1/chat/completions',
    parse: (request) => {
      const { request: params, includeUsage } = fromOpenAIRequest(request.body);
      const { stream: _stream, ...rest } = params;
      return {
        params: rest,
        includeUsage,
        id: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
        created: Math.floor(Date.now() / 1000),
      };
    },
    encodeMessage: (message, { params, id, created }) => ({
      ...messageToOpenAIResponse(message, { id, created }),
      model: params.model,
    }),
    encodeStream: (events, { params, id, created, includeUsage }) => ({
      batches: batchesOf(eventsToOpenAIChunks(events, { id, model: params.model, created, includeUsage })),
      write: (sse, chunks: readonly object[]) =>
        sse.writeRaw(chunks.map((chunk) => encodeOpenAIChunk(chunk as never)).join('')),
      // A failure after the first chunk is an error data line, and no `[DONE]`.
      trailer: OPENAI_STREAM_DONE,
      errorText: (error) => `data: ${JSON.stringify(openAIErrorBody(error))}\n\n`,
    }),
    errorBody: openAIErrorBody,
  });
}

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { fromOpenAIRequest } from '../../providers/openai/server/request.ts';
import { messageToOpenAIResponse, openAIErrorBody } from '../../providers/openai/server/response.ts';
import type { GatewayContext } from '../context.ts';
import { openAIWire } from '../durable/wire.ts';
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
    // A failure after the first chunk is an error data line, and no `[DONE]`.
    encodeStream: ({ params, id, created, includeUsage }) =>
      openAIWire({ id, model: params.model, created, includeUsage }),
    errorBody: openAIErrorBody,
  });
}

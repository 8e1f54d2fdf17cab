import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MessageCreateParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import type { GatewayContext } from '../context.ts';
import { anthropicWire } from '../durable/wire.ts';
import { anthropicErrorBody } from '../errors.ts';
import { modelRoute } from './model-route.ts';

/** `POST /v1/messages`: the Anthropic Messages API, streaming and not, through the resilient stream. */
export function registerMessagesRoute(api: FastifyInstance, gateway: GatewayContext): void {
  modelRoute(api, gateway, {
    path: '/v1/messages',
    parse: (request) => {
      const { stream: _stream, ...params } = parseRequestBody(MessageCreateParamsSchema, request.body);
      return { params, headers: passThroughHeaders(request) };
    },
    encodeMessage: (message) => message,
    encodeStream: anthropicWire,
    errorBody: anthropicErrorBody,
  });
}

/** Headers a client may send that the upstream should see. */
export function passThroughHeaders(request: FastifyRequest): Record<string, string> {
  const beta = request.headers['anthropic-beta'];
  return typeof beta === 'string' ? { 'anthropic-beta': beta } : {};
}

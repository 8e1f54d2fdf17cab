import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../../protocol/errors.ts';
import { MessageCountTokensParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import type { GatewayContext } from '../context.ts';
import { anthropicErrorBody } from '../errors.ts';
import { requestSignal } from '../sse-response.ts';
import { passThroughHeaders } from './messages.ts';

const PATH = '/v1/messages/count_tokens';

/**
 * `POST /v1/messages/count_tokens`: the Anthropic endpoint, answered by the model's own
 * provider (the upstream's count, or the simulated model's), with the body passed on as the
 * caller sent it, unknown fields included. No model runs, so no usage is billed.
 */
export function registerCountTokensRoute(api: FastifyInstance, gateway: GatewayContext): void {
  gateway.errorShapes.register(PATH, anthropicErrorBody);
  api.post(PATH, async (request, reply) => {
    const params = parseRequestBody(MessageCountTokensParamsSchema, request.body);
    const resolved = gateway.models.resolve(params.model);
    if (!resolved.provider.countTokens) {
      throw new InvalidRequestError(
        `Model '${params.model}' is served by the ${resolved.provider.name} provider, which cannot count tokens; count with an anthropic: or sim: model.`,
      );
    }
    const count = await resolved.provider.countTokens(
      { ...params, model: resolved.model },
      { headers: passThroughHeaders(request), signal: requestSignal(reply, gateway.inFlight) },
    );
    return reply.send(count);
  });
}

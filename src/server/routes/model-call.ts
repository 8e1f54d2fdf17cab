import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import type { BatchedIterable } from '../../stream/batches.ts';
import type { GatewayContext } from '../context.ts';
import { fallbackStream } from '../fallbacks.ts';
import { requestSignal } from '../sse-response.ts';
import type { RequestTelemetry } from '../telemetry.ts';
import { publicUpstreamError } from '../upstream-errors.ts';

/** What a model route knows before it reads the body: its telemetry and its signal. */
export interface ModelCall {
  streaming: boolean;
  telemetry: RequestTelemetry;
  /** Aborts when the client leaves or the gateway's grace period ends. */
  signal: AbortSignal;
}

export function beginModelCall(
  gateway: GatewayContext,
  route: string,
  request: FastifyRequest,
  reply: FastifyReply,
): ModelCall {
  const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
  return {
    streaming,
    telemetry: gateway.telemetry.start(route, undefined, streaming),
    signal: requestSignal(reply, gateway.inFlight),
  };
}

/**
 * The answer's events: the request's model and its fallbacks tried in order through the
 * resilient stream, with the model, retries, usage and first token reported to telemetry.
 * The first token is looked for per batch as the batches pass, with no stage of its own.
 */
export function modelEvents(
  gateway: GatewayContext,
  call: ModelCall,
  params: MessageCreateParams,
  headers?: Record<string, string>,
): BatchedIterable<StreamEvent> {
  const { telemetry, signal } = call;
  const chain = gateway.models.resolveChain(params.model);
  telemetry.model(chain[0]!.ref);
  let firstTokenSeen = false;
  return fallbackStream(chain, params, {
    policy: gateway.policy,
    headers,
    signal,
    publicError: (error) => publicUpstreamError(error, gateway.scrubber),
    onRetry: (info) => telemetry.retry(info),
    onUsage: (usage) => telemetry.usage(usage),
    onModel: (model) => telemetry.model(model.ref),
    onBatch: (batch) => {
      if (firstTokenSeen || !batch.some((event) => event.type === 'content_block_delta')) return;
      firstTokenSeen = true;
      telemetry.firstToken();
    },
  });
}

export { GEN_AI, requestAttributes, usageAttributes } from '../../client/tracing.ts';

/**
 * The OpenTelemetry GenAI semantic conventions this gateway implements: the names of
 * `@opentelemetry/semantic-conventions` 1.45.0 (its incubating GenAI attributes and metrics),
 * copied here as that package advises for incubating names, so nothing of it loads at run time.
 */
export const SEMCONV_VERSION = '1.45.0';

export const GEN_AI_METRICS = {
  operationDuration: 'gen_ai.client.operation.duration',
  tokenUsage: 'gen_ai.client.token.usage',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  serverTimeToFirstToken: 'gen_ai.server.time_to_first_token',
} as const;

/** The operation every call of the gateway is: a chat completion. */
export const CHAT = 'chat';

/** A span's name under the conventions: `{operation} {model}`. */
export function spanName(model: string): string {
  return `${CHAT} ${model}`;
}

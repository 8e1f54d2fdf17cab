import type { Attributes } from '@opentelemetry/api';
import type { MessageCreateParams } from '../../protocol/request.ts';

/**
 * The OpenTelemetry GenAI semantic conventions this gateway implements: the names of
 * `@opentelemetry/semantic-conventions` 1.45.0 (its incubating GenAI attributes and metrics),
 * copied here as that package advises for incubating names, so nothing of it loads at run time.
 */
export const SEMCONV_VERSION = '1.45.0';

export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  maxTokens: 'gen_ai.request.max_tokens',
  temperature: 'gen_ai.request.temperature',
  topP: 'gen_ai.request.top_p',
  topK: 'gen_ai.request.top_k',
  stopSequences: 'gen_ai.request.stop_sequences',
  stream: 'gen_ai.request.stream',
  responseId: 'gen_ai.response.id',
  responseModel: 'gen_ai.response.model',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheWriteTokens: 'gen_ai.usage.cache_creation.input_tokens',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
} as const;

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

/** The `gen_ai.request.*` attributes of a request (what it asked; never its prompt). */
export function requestAttributes(request: MessageCreateParams, streaming: boolean): Attributes {
  const attributes: Attributes = {
    [GEN_AI.operation]: CHAT,
    [GEN_AI.requestModel]: request.model,
    [GEN_AI.maxTokens]: request.max_tokens,
    [GEN_AI.stream]: streaming,
  };
  if (request.temperature != null) attributes[GEN_AI.temperature] = request.temperature;
  if (request.top_p != null) attributes[GEN_AI.topP] = request.top_p;
  if (request.top_k != null) attributes[GEN_AI.topK] = request.top_k;
  if (request.stop_sequences?.length) attributes[GEN_AI.stopSequences] = request.stop_sequences;
  return attributes;
}

import { SluiceError } from '../protocol/errors.ts';
import type { Message, Usage } from '../protocol/message.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import type { RetryInfo } from '../stream/message-stream.ts';

/** An attribute value as OpenTelemetry takes it. */
export type TraceAttributes = Record<string, string | number | boolean | string[] | undefined>;

/** The part of an OpenTelemetry `Span` a traced call uses. */
export interface TraceSpan {
  setAttribute(key: string, value: string | number | boolean | string[]): unknown;
  setAttributes(attributes: TraceAttributes): unknown;
  addEvent(name: string, attributes?: TraceAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/**
 * The part of an OpenTelemetry `Tracer` a `Client` uses: hand it
 * `trace.getTracer('my-app')` from `@opentelemetry/api` and every call is a span. Declared
 * here rather than imported, so that `sluice` depends on nothing of OpenTelemetry.
 */
export interface SpanTracer {
  startSpan(name: string, options?: { kind?: number; attributes?: TraceAttributes }): TraceSpan;
}

/**
 * The OpenTelemetry GenAI semantic-convention names Sluice writes: those of
 * `@opentelemetry/semantic-conventions` 1.45.0 (incubating), copied as that package advises.
 */
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

/** OpenTelemetry's SpanKind.CLIENT and SpanStatusCode.ERROR (the API's enum values). */
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;

/** The `gen_ai.request.*` attributes of a request (what it asked; never its prompt). */
export function requestAttributes(request: MessageCreateParams, streaming: boolean): TraceAttributes {
  const attributes: TraceAttributes = {
    [GEN_AI.operation]: 'chat',
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

/** The `gen_ai.usage.*` attributes of a usage, cache tokens included. */
export function usageAttributes(usage: {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}): TraceAttributes {
  const attributes: TraceAttributes = {};
  if (usage.input_tokens != null) attributes[GEN_AI.inputTokens] = usage.input_tokens;
  if (usage.output_tokens != null) attributes[GEN_AI.outputTokens] = usage.output_tokens;
  if (usage.cache_read_input_tokens != null)
    attributes[GEN_AI.cacheReadTokens] = usage.cache_read_input_tokens;
  if (usage.cache_creation_input_tokens != null)
    attributes[GEN_AI.cacheWriteTokens] = usage.cache_creation_input_tokens;
  return attributes;
}

/** A `Client` call's span: `chat {model}`, its retries and resumes as events, its usage over every attempt. */
export class ClientCallSpan {
  private readonly span: TraceSpan;

  constructor(tracer: SpanTracer, model: string, provider: string) {
    this.span = tracer.startSpan(`chat ${model}`, {
      kind: SPAN_KIND_CLIENT,
      attributes: { [GEN_AI.operation]: 'chat', [GEN_AI.provider]: provider, [GEN_AI.requestModel]: model },
    });
  }

  request(request: MessageCreateParams): void {
    // The request names the provider's model; the span keeps the `provider:model` the caller asked for.
    const { [GEN_AI.requestModel]: _model, ...attributes } = requestAttributes(request, true);
    this.span.setAttributes(attributes);
  }

  retry(info: RetryInfo): void {
    this.span.addEvent(`sluice.${info.mode}`, {
      'sluice.attempt': info.attempt,
      'sluice.reason': info.reason,
      'sluice.delay_ms': info.delayMs,
    });
  }

  usage(usage: Usage): void {
    this.span.setAttributes(usageAttributes(usage));
  }

  message(message: Message): void {
    this.span.setAttributes({
      [GEN_AI.responseId]: message.id,
      [GEN_AI.responseModel]: message.model,
      ...(message.stop_reason ? { [GEN_AI.finishReasons]: [message.stop_reason] } : {}),
    });
  }

  error(error: unknown): void {
    this.span.setAttribute(
      GEN_AI.errorType,
      error instanceof SluiceError ? error.type : (error as Error).name,
    );
    this.span.setStatus({ code: STATUS_ERROR, message: (error as Error).message });
  }

  end(): void {
    this.span.end();
  }
}

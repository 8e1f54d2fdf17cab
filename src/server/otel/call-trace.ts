import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { SluiceError } from '../../protocol/errors.ts';
import type { KnownStreamEvent, StreamEvent } from '../../protocol/events.ts';
import type { Message, Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import type { Provider, ProviderCallOptions } from '../../providers/types.ts';
import { batched, batchesOf, DONE } from '../../stream/batches.ts';
import type { RetryInfo } from '../../stream/message-stream.ts';
import type { ResolvedModel } from '../models.ts';
import type { CallOutcome } from '../observed-call.ts';
import { GEN_AI, requestAttributes, spanName, usageAttributes } from './gen-ai.ts';
import type { ModelCallTrace, OtelInstruments } from './types.ts';

/** What `error.type` says of a failure: the Anthropic error type, else the error's class. */
function errorType(error: unknown, status: number): string {
  if (error instanceof SluiceError) return error.type;
  if (error instanceof Error) return error.name;
  return status === 499 ? 'cancelled' : String(status);
}

/**
 * One model call's trace: a SERVER span `chat {model}` for the call as the gateway's caller
 * sees it (retries and resumes as its events, usage summed over every attempt), a CLIENT
 * child span per upstream attempt, and the GenAI metrics when it ends. Prompts and answers
 * are never recorded.
 */
export class CallTrace implements ModelCallTrace {
  private readonly otel: OtelInstruments;
  private readonly span: Span;
  private readonly context: Context;
  private readonly startedAt = performance.now();
  private readonly base: Attributes;
  private firstTokenAt: number | undefined;
  private usage: Usage | undefined;
  private model: ResolvedModel;

  constructor(
    otel: OtelInstruments,
    request: MessageCreateParams,
    streaming: boolean,
    chain: readonly ResolvedModel[],
  ) {
    this.otel = otel;
    this.model = chain[0]!;
    this.base = { ...requestAttributes(request, streaming), [GEN_AI.provider]: this.model.provider.name };
    this.span = otel.tracer.startSpan(spanName(request.model), {
      kind: SpanKind.SERVER,
      attributes: this.base,
    });
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  /** The chain with each provider's calls traced as child spans. */
  traced(chain: readonly ResolvedModel[]): ResolvedModel[] {
    return chain.map((model) => ({ ...model, provider: this.tracedProvider(model.provider) }));
  }

  readonly onRetry = (info: RetryInfo): void => {
    this.span.addEvent(info.mode === 'retry' ? 'sluice.retry' : `sluice.${info.mode}`, {
      'sluice.attempt': info.attempt,
      'sluice.reason': info.reason,
      'sluice.delay_ms': info.delayMs,
    });
  };

  readonly onModel = (model: ResolvedModel): void => {
    this.model = model;
    this.span.setAttribute(GEN_AI.provider, model.provider.name);
  };

  readonly onUsage = (usage: Usage): void => {
    this.usage = this.usage
      ? {
          ...usage,
          input_tokens: this.usage.input_tokens + usage.input_tokens,
          output_tokens: this.usage.output_tokens + usage.output_tokens,
          cache_read_input_tokens:
            (this.usage.cache_read_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0),
          cache_creation_input_tokens:
            (this.usage.cache_creation_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0),
        }
      : usage;
  };

  readonly onFirstToken = (): void => {
    this.firstTokenAt ??= performance.now();
  };

  readonly onMessage = (message: Message): void => {
    this.span.setAttributes({
      [GEN_AI.responseId]: message.id,
      [GEN_AI.responseModel]: message.model,
      ...(message.stop_reason ? { [GEN_AI.finishReasons]: [message.stop_reason] } : {}),
    });
  };

  end({ status, error }: CallOutcome): void {
    const metric: Attributes = {
      [GEN_AI.operation]: this.base[GEN_AI.operation],
      [GEN_AI.provider]: this.model.provider.name,
      [GEN_AI.requestModel]: this.base[GEN_AI.requestModel],
      [GEN_AI.responseModel]: this.model.model,
    };
    if (this.usage) this.span.setAttributes(usageAttributes(this.usage));
    this.span.setAttribute('http.response.status_code', status);
    if (status >= 400) {
      const type = errorType(error, status);
      metric[GEN_AI.errorType] = type;
      this.span.setAttribute(GEN_AI.errorType, type);
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : undefined,
      });
    }
    this.otel.operationDuration.record((performance.now() - this.startedAt) / 1000, metric);
    if (this.usage) {
      this.otel.tokenUsage.record(this.usage.input_tokens, { ...metric, [GEN_AI.tokenType]: 'input' });
      this.otel.tokenUsage.record(this.usage.output_tokens, { ...metric, [GEN_AI.tokenType]: 'output' });
    }
    if (this.firstTokenAt !== undefined) {
      const seconds = (this.firstTokenAt - this.startedAt) / 1000;
      this.otel.timeToFirstChunk.record(seconds, metric);
      this.otel.serverTimeToFirstToken.record(seconds, metric);
    }
    this.span.end();
  }

  private tracedProvider(provider: Provider): Provider {
    return {
      ...provider,
      stream: (request, options) => this.attempt(provider, request, options),
    };
  }

  /** One upstream attempt as a CLIENT span, its response read from the events as they pass. */
  private attempt(
    provider: Provider,
    request: MessageCreateParams,
    options: ProviderCallOptions | undefined,
  ): AsyncIterable<StreamEvent> {
    const span = this.otel.tracer.startSpan(
      spanName(request.model),
      {
        kind: SpanKind.CLIENT,
        attributes: { ...requestAttributes(request, true), [GEN_AI.provider]: provider.name },
      },
      this.context,
    );
    const source = batchesOf(provider.stream(request, options));
    return batched(() => {
      const inner = source[Symbol.asyncIterator]();
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        if (error !== undefined) {
          span.setAttribute(GEN_AI.errorType, errorType(error, 0));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      };
      return {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            try {
              const result = await inner.next();
              if (result.done) end();
              else observeAttempt(span, result.value);
              return result;
            } catch (error) {
              end(error);
              throw error;
            }
          },
          return: async () => {
            try {
              await inner.return?.();
            } finally {
              end(new SluiceError('api_error', 'The attempt was cut.'));
            }
            return DONE;
          },
        }),
      };
    });
  }
}

function observeAttempt(span: Span, batch: readonly StreamEvent[]): void {
  for (const item of batch) {
    // Unknown event types pass through untouched; the known ones narrow by `type`.
    const event = item as KnownStreamEvent;
    if (event.type === 'message_start') {
      span.setAttributes({
        [GEN_AI.responseId]: event.message.id,
        [GEN_AI.responseModel]: event.message.model,
        ...usageAttributes(event.message.usage),
      });
    } else if (event.type === 'message_delta') {
      if (event.delta.stop_reason) span.setAttribute(GEN_AI.finishReasons, [event.delta.stop_reason]);
      span.setAttributes(usageAttributes(event.usage ?? {}));
    } else if (event.type === 'error') {
      span.setAttribute(GEN_AI.errorType, event.error.type);
    }
  }
}

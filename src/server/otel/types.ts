import type { Histogram, Tracer } from '@opentelemetry/api';
import type { Message, Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import type { RetryInfo } from '../../stream/message-stream.ts';
import type { ResolvedModel } from '../models.ts';
import type { CallObserver } from '../observed-call.ts';

/** The tracer and GenAI histograms a model call's trace records to. */
export interface OtelInstruments {
  tracer: Tracer;
  operationDuration: Histogram;
  tokenUsage: Histogram;
  timeToFirstChunk: Histogram;
  serverTimeToFirstToken: Histogram;
}

/** One model call's trace, fed by `callModel`'s hooks (call-trace.ts). */
export interface ModelCallTrace extends CallObserver {
  /** The chain with each provider's calls traced as child spans. */
  traced(chain: readonly ResolvedModel[]): ResolvedModel[];
  onRetry(info: RetryInfo): void;
  onModel(model: ResolvedModel): void;
  onUsage(usage: Usage): void;
  onFirstToken(): void;
  onMessage(message: Message): void;
}

/** What the gateway records to when OpenTelemetry is on, and a flush-and-stop for shutdown. */
export interface GatewayOtel extends OtelInstruments {
  /** Starts a model call's trace. */
  traceCall(
    request: MessageCreateParams,
    streaming: boolean,
    chain: readonly ResolvedModel[],
  ): ModelCallTrace;
  /** Exports what is pending and stops; the gateway calls it after its last request. */
  shutdown(): Promise<void>;
}

import type { StreamEvent } from '../protocol/events.ts';
import type {
  MessageCountTokensParams,
  MessageCreateParams,
  MessageTokensCount,
} from '../protocol/request.ts';

/**
 * The version of the `Provider` contract below. A provider states the one it implements, and
 * the registry refuses one that states another, with an error naming both, rather than failing
 * later in a stream. Raised when the contract changes in a way existing providers would break.
 */
export const PROVIDER_SPECIFICATION_VERSION = 'sluice-provider-1';
export type ProviderSpecificationVersion = typeof PROVIDER_SPECIFICATION_VERSION;

/** What a provider can do; the layers above adapt (e.g. resume by restart without prefill). */
export interface ProviderCapabilities {
  /** Continues an assistant turn given as the last message. */
  prefill: boolean;
  tools: boolean;
  images: boolean;
  documents: boolean;
  thinking: boolean;
}

/** Per-call options of `Provider.stream`: the abort signal, and extra headers. */
export interface ProviderCallOptions {
  /** Aborting it cancels the upstream request at once. */
  signal?: AbortSignal;
  /** Extra request headers (e.g. `anthropic-beta`), passed through to the upstream. */
  headers?: Record<string, string>;
  /**
   * Called when the provider picked up a dropped answer where it broke off, without a new
   * model call (a Sluice gateway's durable stream); the resilience layer reports it as an attempt.
   */
  onReattach?: (info: ReattachInfo) => void;
}

/** A dropped connection a provider is about to reattach to, and why it dropped. */
export interface ReattachInfo {
  streamId: string;
  /** The `id:` of the last event received; `undefined` when none had arrived (replay from the start). */
  lastEventId: string | undefined;
  error: unknown;
}

/**
 * A model provider: one function shape, whatever is behind it. `request.model` is the
 * provider's own model name (the `provider:` prefix removed). Errors are Sluice errors:
 * HTTP failures as their typed class (with status and retry hints), network failures as
 * `ConnectionError`. The stream may end without `message_stop` if the connection drops;
 * the assembler and the resilience layer notice.
 */
export interface Provider {
  /** The contract this provider implements: PROVIDER_SPECIFICATION_VERSION. */
  readonly specificationVersion: ProviderSpecificationVersion;
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  stream(request: MessageCreateParams, options?: ProviderCallOptions): AsyncIterable<StreamEvent>;
  /**
   * The input tokens a request would cost, without running it (the Messages API's
   * `count_tokens`); absent when the provider cannot count them.
   */
  countTokens?(request: MessageCountTokensParams, options?: ProviderCallOptions): Promise<MessageTokensCount>;
}

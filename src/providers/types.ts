import type { StreamEvent } from '../protocol/events.ts';
import type { MessageCreateParams } from '../protocol/request.ts';

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
}

/**
 * A model provider: one function shape, whatever is behind it. `request.model` is the
 * provider's own model name (the `provider:` prefix removed). Errors are Sluice errors:
 * HTTP failures as their typed class (with status and retry hints), network failures as
 * `ConnectionError`. The stream may end without `message_stop` if the connection drops;
 * the assembler and the resilience layer notice.
 */
export interface Provider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  stream(request: MessageCreateParams, options?: ProviderCallOptions): AsyncIterable<StreamEvent>;
}

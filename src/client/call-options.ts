import type { TextBlock } from '../protocol/content.ts';
import type { CustomTool, ServerTool, ThinkingConfig, ToolChoice } from '../protocol/request.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import type { CacheOption } from './cache.ts';

// The options of one call, apart from the Client that takes them, so that the modules the
// Client is built from (structured output) can name them without importing the Client.

/**
 * Anything with a tool definition: a Sluice `tool()`, a raw API tool, or a server tool the
 * provider runs itself (`{ type: 'web_search_20250305', name: 'web_search' }`), passed on as given.
 */
export type ToolLike = CustomTool | ServerTool | { readonly definition: CustomTool };

/** Per-call options of `Client.create` and `Client.stream` (system, maxTokens, prefill, tools, signal, …). */
export interface CallOptions {
  system?: string | TextBlock[];
  temperature?: number;
  maxTokens?: number;
  /** Text the answer must start with; it appears at the start of the returned text. */
  prefill?: string;
  stopSequences?: string[];
  tools?: ToolLike[];
  /** A tool name forces that tool; or `auto`, `any`, `none`, or an API tool_choice. */
  toolChoice?: string | ToolChoice;
  /**
   * Extended thinking: a number (or `{ budgetTokens }`) turns it on with that token budget;
   * or the API's own object (`{ type: 'adaptive' }`, `{ type: 'enabled', budget_tokens }`, …).
   */
  thinking?: number | { budgetTokens: number } | ThinkingConfig;
  /**
   * Prompt caching: `true` puts `cache_control` breakpoints on the system prompt, the tools
   * and the latest turns (at most four in all, the caller's own included); `{ ttl: '1h' }`
   * caches for an hour instead of five minutes. Cache reads and writes show in usage and cost.
   */
  cache?: CacheOption;
  topP?: number;
  topK?: number;
  metadata?: { user_id?: string };
  signal?: AbortSignal;
  /** Overrides the client's resilience policy for this call. */
  policy?: Partial<ResiliencePolicy>;
  headers?: Record<string, string>;
}

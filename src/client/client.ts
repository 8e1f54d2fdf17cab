import { InvalidRequestError } from '../protocol/errors.ts';
import { emptyUsage, type Message, type Usage } from '../protocol/message.ts';
import type {
  CustomTool,
  MessageCreateParams,
  ThinkingConfig,
  ToolChoice,
  ToolParam,
} from '../protocol/request.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { Provider } from '../providers/types.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { resilientStream } from '../resilience/resilient-stream.ts';
import { MessageStream, type RetryInfo, type SourceContext } from '../stream/message-stream.ts';
import { withCacheBreakpoints } from './cache.ts';
import type { CallOptions, ToolLike } from './call-options.ts';

import { type MessagesInput, toMessageParams } from './messages.ts';
import { withPrefill } from './prefill.ts';
import type { SchemaOutput, StandardSchema } from './schema.ts';
import { type StructuredOptions, structuredCall } from './structured.ts';
import { ClientCallSpan, type SpanTracer } from './tracing.ts';
import { DEFAULT_PRICES, type Price, priceOf, Totals } from './usage.ts';

// Their home is call-options.ts; the Client's importers find them here too.
export type { CallOptions, ToolLike };

/** How a `Client` is built: its provider or registry, policy, prices, shared usage totals and call log. */
export interface ClientOptions {
  /** Resolves `provider:model` strings; defaults to one built from the environment. */
  registry?: ProviderRegistry;
  /** Use this provider directly instead of resolving the model's prefix. */
  provider?: Provider;
  policy?: Partial<ResiliencePolicy>;
  maxTokens?: number;
  /** Extra prices (USD per million tokens) by `provider:model`. */
  prices?: Record<string, Price>;
  /** Keep a record of every call in `client.log`. */
  log?: boolean;
  /** Totals to add this client's usage to, shared with other clients (default: its own). */
  usage?: Totals;
  headers?: Record<string, string>;
  /**
   * An OpenTelemetry tracer (`trace.getTracer('my-app')` from `@opentelemetry/api`): each call
   * is then a span `chat {model}` under the GenAI semantic conventions, retries and resumes as
   * its events. Absent: nothing is traced, and nothing of OpenTelemetry is needed.
   */
  tracer?: SpanTracer;
}

/** One call as `Client.log` keeps it with `{ log: true }`: request, outcome, usage, retries and duration. */
export interface CallRecord {
  model: string;
  request: MessageCreateParams;
  message?: Message;
  error?: unknown;
  usage: Usage;
  retries: RetryInfo[];
  durationMs: number;
}

/** `max_tokens` sent when a call does not set `maxTokens`. */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * One model, called as simply as claudette: `await client.create('Hi')`, or
 * `client.stream(...)` for a `MessageStream`. Every call goes through the resilient stream;
 * usage and cost accumulate, aborted and failed calls included.
 */
export class Client {
  readonly model: string;
  readonly usage: Totals;
  readonly log: CallRecord[] = [];
  /** The last complete response. */
  result: Message | undefined;
  private readonly provider: Provider;
  private readonly providerModel: string;
  private readonly options: ClientOptions;
  private readonly prices: Record<string, Price>;

  constructor(model?: string, options: ClientOptions = {}) {
    const registry = options.registry ?? new ProviderRegistry();
    this.model = model ?? registry.defaultModel;
    const resolved = options.provider
      ? { provider: options.provider, model: this.model.slice(this.model.indexOf(':') + 1) }
      : registry.resolve(this.model);
    this.provider = resolved.provider;
    this.providerModel = resolved.model;
    this.options = options;
    this.usage = options.usage ?? new Totals();
    this.prices = { ...DEFAULT_PRICES, ...options.prices };
  }

  /** Total cost in USD of every call so far (models without a price add nothing). */
  get cost(): number {
    return this.usage.cost;
  }

  get capabilities(): Provider['capabilities'] {
    return this.provider.capabilities;
  }

  /** The request a call would send, for inspection and tests. */
  buildRequest(messages: MessagesInput, options: CallOptions = {}): MessageCreateParams {
    const conversation = toMessageParams(messages);
    if (options.prefill) conversation.push({ role: 'assistant', content: options.prefill.trimEnd() });
    const request: MessageCreateParams = {
      model: this.providerModel,
      max_tokens: options.maxTokens ?? this.options.maxTokens ?? DEFAULT_MAX_TOKENS,
      messages: conversation,
    };
    if (options.system !== undefined && options.system !== '') request.system = options.system;
    if (options.temperature !== undefined) request.temperature = options.temperature;
    if (options.topP !== undefined) request.top_p = options.topP;
    if (options.topK !== undefined) request.top_k = options.topK;
    if (options.stopSequences?.length) request.stop_sequences = options.stopSequences;
    if (options.metadata) request.metadata = options.metadata;
    if (options.tools?.length) request.tools = options.tools.map(toolDefinitionOf);
    if (options.toolChoice !== undefined) request.tool_choice = toolChoiceOf(options.toolChoice);
    if (options.thinking !== undefined) request.thinking = thinkingOf(options.thinking);
    return options.cache ? withCacheBreakpoints(request, options.cache) : request;
  }

  /**
   * Streams a response. The text starts with the prefill, if one was given. `messages` may
   * be a function, called when the stream starts, for callers that must finish some work
   * (running tools) before the conversation is complete.
   */
  stream(messages: MessagesInput | (() => Promise<MessagesInput>), options: CallOptions = {}): MessageStream {
    const record: CallRecord = {
      model: this.model,
      request: { model: this.providerModel, max_tokens: 1, messages: [] },
      usage: emptyUsage(),
      retries: [],
      durationMs: 0,
    };
    const startedAt = performance.now();
    const span =
      this.options.tracer && new ClientCallSpan(this.options.tracer, this.model, this.provider.name);
    const stream = new MessageStream(
      async function* (this: Client, { signal, reportRetry }: SourceContext) {
        const request = this.buildRequest(
          typeof messages === 'function' ? await messages() : messages,
          options,
        );
        record.request = request;
        span?.request(request);
        const events = resilientStream(this.provider, request, {
          policy: { ...this.options.policy, ...options.policy },
          signal,
          headers: { ...this.options.headers, ...options.headers },
          onRetry: (info) => {
            span?.retry(info);
            record.retries.push(info);
            reportRetry(info);
          },
          // Called however the call ends: failed and aborted calls are counted too.
          onUsage: (usage) => {
            record.usage = usage;
            span?.usage(usage);
            this.usage.add(usage, priceOf(this.model, this.prices));
          },
        });
        yield* options.prefill ? withPrefill(events, options.prefill) : events;
      }.bind(this),
      { signal: options.signal, startedAt },
    );
    stream.observe('message', (message) => {
      this.result = message;
      record.message = message;
      span?.message(message);
    });
    stream.observe('error', (error) => {
      record.error = error;
      span?.error(error);
    });
    if (span) stream.observe('end', () => span.end());
    if (this.options.log) {
      this.log.push(record);
      stream.observe('end', () => {
        record.durationMs = performance.now() - startedAt;
      });
    }
    return stream;
  }

  /** A typed, validated object: the model is made to answer through a tool whose input is `schema`. */
  async structured<Schema extends StandardSchema>(
    prompt: MessagesInput,
    schema: Schema,
    options: StructuredOptions = {},
  ): Promise<SchemaOutput<Schema>> {
    const { callOptions, parse } = structuredCall(schema, options);
    return parse(await this.create(prompt, callOptions));
  }

  /**
   * The input tokens a call with these messages and options would cost, counted by the
   * provider without running the model (the Messages API's `count_tokens`; free of charge).
   */
  async countTokens(messages: MessagesInput, options: CallOptions = {}): Promise<number> {
    if (!this.provider.countTokens) {
      throw new InvalidRequestError(
        `The ${this.provider.name} provider cannot count tokens; count with an anthropic: or sim: model.`,
      );
    }
    const { max_tokens: _max, ...request } = this.buildRequest(messages, options);
    const count = await this.provider.countTokens(request, {
      signal: options.signal,
      headers: { ...this.options.headers, ...options.headers },
    });
    return count.input_tokens;
  }

  /** The complete response. */
  create(
    messages: MessagesInput | (() => Promise<MessagesInput>),
    options: CallOptions = {},
  ): Promise<Message> {
    return this.stream(messages, options).finalMessage();
  }
}

function toolDefinitionOf(tool: ToolLike): ToolParam {
  return 'definition' in tool ? (tool as { definition: CustomTool }).definition : (tool as ToolParam);
}

function toolChoiceOf(choice: string | ToolChoice): ToolChoice {
  if (typeof choice !== 'string') return choice;
  if (choice === 'auto' || choice === 'any' || choice === 'none') return { type: choice };
  return { type: 'tool', name: choice };
}

function thinkingOf(thinking: number | { budgetTokens: number } | ThinkingConfig): ThinkingConfig {
  if (typeof thinking === 'number') return { type: 'enabled', budget_tokens: thinking };
  if ('budgetTokens' in thinking)
    return { type: 'enabled', budget_tokens: (thinking as { budgetTokens: number }).budgetTokens };
  return thinking as ThinkingConfig;
}

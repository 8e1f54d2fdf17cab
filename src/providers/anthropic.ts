import { AuthenticationError, ConnectionError, ProtocolError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import {
  type MessageCountTokensParams,
  type MessageCreateParams,
  type MessageTokensCount,
  MessageTokensCountSchema,
} from '../protocol/request.ts';
import { type BatchedIterable, batched, batchesOf, openedOnFirstPull } from '../stream/batches.ts';
import { type SseCursor, sseStreamEvents } from '../stream/decode-events.ts';
import type { ProviderDescriptor } from './descriptor.ts';
import { bodyText, discard, getStream, postJson, trimSlash, type UpstreamResponse } from './http.ts';
import { MAX_FRUITLESS_REATTACHES, withRawSse } from './raw-sse.ts';
import { runtimeEnv } from './runtime-env.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider, type ProviderCallOptions } from './types.ts';

/** Options of `createAnthropicProvider`; key and base URL default to `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`. */
export interface AnthropicProviderOptions {
  /** Defaults to `ANTHROPIC_API_KEY`. */
  apiKey?: string;
  /** Defaults to `ANTHROPIC_BASE_URL`, then `https://api.anthropic.com`. */
  baseURL?: string;
  /** The `anthropic-version` header. */
  version?: string;
  /** Headers sent with every request, e.g. `anthropic-beta`. */
  headers?: Record<string, string>;
  /** Sends requests with this fetch instead of Node's own HTTP client. */
  fetch?: typeof fetch;
  /**
   * When the endpoint is a Sluice gateway (its answer names a `sluice-stream-id`), a dropped
   * connection is picked up with `GET /v1/streams/{id}` from the last event received, instead
   * of a new model call. On unless false.
   */
  reattach?: boolean;
}

/** The `anthropic-version` header sent unless `headers` sets another. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';
const DEFAULT_BASE_URL = 'https://api.anthropic.com';
const CAPABILITIES = { prefill: true, tools: true, images: true, documents: true, thinking: true };

/** The `anthropic` kind: the built-in `anthropic:` provider and `"type": "anthropic"` in a configuration. */
export const anthropicDescriptor: ProviderDescriptor = {
  kind: 'anthropic',
  aliases: [],
  description: 'the Anthropic Messages API',
  capabilities: CAPABILITIES,
  env: { apiKey: 'ANTHROPIC_API_KEY', baseURL: 'ANTHROPIC_BASE_URL' },
  defaultBaseURL: DEFAULT_BASE_URL,
  settings: ['apiKeyEnv', 'baseURL', 'headers'],
  gatewayBuiltIn: 'always',
  fromEnv: (env) =>
    createAnthropicProvider({ apiKey: env.ANTHROPIC_API_KEY, baseURL: env.ANTHROPIC_BASE_URL }),
  fromSettings: ({ apiKey, baseURL, headers }) => createAnthropicProvider({ apiKey, baseURL, headers }),
};

/** The Anthropic Messages API over HTTP: always streamed; a non-streaming call is the assembled stream. */
export function createAnthropicProvider(options: AnthropicProviderOptions = {}): Provider {
  const apiKey = options.apiKey ?? runtimeEnv().ANTHROPIC_API_KEY;
  const baseURL = trimSlash(options.baseURL ?? runtimeEnv().ANTHROPIC_BASE_URL ?? DEFAULT_BASE_URL);
  const version = options.version ?? DEFAULT_ANTHROPIC_VERSION;

  const provider: Provider = {
    specificationVersion: PROVIDER_SPECIFICATION_VERSION,
    name: 'anthropic',
    capabilities: CAPABILITIES,
    stream(request: MessageCreateParams, call: ProviderCallOptions = {}): BatchedIterable<StreamEvent> {
      return batched(() => openedOnFirstPull(() => openStream(request, call)));
    },
    countTokens,
  };
  // A gateway relaying this provider's answers may pass their text through (server/relay/),
  // and reattach to a Sluice gateway's stream as `reattaching` does.
  if (options.fetch !== undefined) return provider;
  const reattachSse = async (streamId: string, lastEventId: string | undefined, call: ProviderCallOptions) =>
    openReattach(streamId, lastEventId, call, requireKey());
  return withRawSse(provider, options.reattach === false ? { openSse } : { openSse, reattachSse });

  async function countTokens(
    request: MessageCountTokensParams,
    call: ProviderCallOptions = {},
  ): Promise<MessageTokensCount> {
    const key = requireKey();
    const response = await postJson(`${baseURL}/v1/messages/count_tokens`, request, {
      headers: { accept: 'application/json', ...authHeaders(call, key) },
      signal: call.signal,
      fetch: options.fetch,
    });
    const text = await bodyText(response.body, call.signal);
    let count: unknown;
    try {
      count = JSON.parse(text);
    } catch {
      count = undefined;
    }
    const parsed = MessageTokensCountSchema.safeParse(count);
    if (!parsed.success) {
      throw new ProtocolError(
        `The Anthropic endpoint at ${baseURL} answered count_tokens without an input_tokens count; check ANTHROPIC_BASE_URL.`,
      );
    }
    return parsed.data;
  }

  function requireKey(): string {
    if (!apiKey) {
      throw new AuthenticationError(
        'No Anthropic API key: set ANTHROPIC_API_KEY (or pass apiKey) to use anthropic: models, or use sim:default.',
      );
    }
    return apiKey;
  }

  function authHeaders(call: ProviderCallOptions, key: string): Record<string, string> {
    return { 'anthropic-version': version, ...options.headers, ...call.headers, 'x-api-key': key };
  }

  /** One attempt's response, checked to be an event stream and not read yet. */
  async function openSse(request: MessageCreateParams, call: ProviderCallOptions): Promise<UpstreamResponse> {
    const key = requireKey();
    const response = await postJson(
      `${baseURL}/v1/messages`,
      { ...request, stream: true },
      {
        headers: { accept: 'text/event-stream', ...authHeaders(call, key) },
        signal: call.signal,
        fetch: options.fetch,
      },
    );
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.includes('text/event-stream')) {
      await discard(response.body);
      throw new ProtocolError(
        `The Anthropic endpoint at ${baseURL} answered a streaming request with '${contentType || 'no content type'}' instead of an event stream; check ANTHROPIC_BASE_URL.`,
      );
    }
    return response;
  }

  async function openStream(
    request: MessageCreateParams,
    call: ProviderCallOptions,
  ): Promise<AsyncIterable<readonly StreamEvent[]>> {
    const response = await openSse(request, call);
    const key = requireKey();
    const streamId = options.reattach === false ? null : response.headers.get('sluice-stream-id');
    // One stage from bytes to events: a gateway relays events one network chunk at a time,
    // and each stacked stage would cost every event an await of its own.
    if (!streamId) return batchesOf(sseStreamEvents(response.body, call.signal));
    return reattaching(response, streamId, call, key);
  }

  /** A Sluice gateway's stream `streamId` after the event `lastEventId`: replayed, then followed live. */
  function openReattach(
    streamId: string,
    lastEventId: string | undefined,
    call: ProviderCallOptions,
    key: string,
  ): Promise<UpstreamResponse> {
    return getStream(`${baseURL}/v1/streams/${encodeURIComponent(streamId)}`, {
      headers: {
        accept: 'text/event-stream',
        ...authHeaders(call, key),
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      },
      signal: call.signal,
      fetch: options.fetch,
    });
  }

  /**
   * A Sluice gateway's answer, read across dropped connections: the gateway logs every event
   * under an `id:`, so after a drop `GET /v1/streams/{id}` with `Last-Event-ID` replays what
   * was missed and follows the live answer to its end. The consumer sees one answer, and the
   * model is not asked again. When the gateway cannot (404: expired or unknown; any other
   * failure) the original drop is rethrown for the resilience layer to resume as usual.
   */
  async function* reattaching(
    first: UpstreamResponse,
    streamId: string,
    call: ProviderCallOptions,
    key: string,
  ): AsyncGenerator<readonly StreamEvent[]> {
    const cursor: SseCursor = {};
    let body = first.body;
    let fruitless = 0;
    while (true) {
      let ended = false;
      let drop: unknown;
      try {
        for await (const batch of batchesOf(sseStreamEvents(body, call.signal, cursor))) {
          fruitless = 0;
          const type = batch[batch.length - 1]?.type;
          ended = type === 'message_stop' || type === 'error';
          yield batch;
        }
        // A body that ended before message_stop was cut as surely as one that failed.
        if (ended) return;
        drop = new ConnectionError('The connection to the gateway closed before the answer ended.');
      } catch (error) {
        if (call.signal?.aborted || !(error instanceof ConnectionError)) throw error;
        // Cut after its last event (mid-trailer): nothing is missing.
        if (ended) return;
        drop = error;
      }
      if (++fruitless > MAX_FRUITLESS_REATTACHES) throw drop;
      const lastEventId = cursor.lastEventId;
      call.onReattach?.({ streamId, lastEventId, error: drop });
      try {
        body = (await openReattach(streamId, lastEventId, call, key)).body;
      } catch (error) {
        if (call.signal?.aborted) throw error;
        // 404 (expired, unknown) or a gateway that cannot replay: the resilience layer resumes.
        throw drop;
      }
    }
  }
}

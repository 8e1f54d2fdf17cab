import { AuthenticationError, ProtocolError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import { type BatchedIterable, batched, batchesOf, openedOnFirstPull } from '../stream/batches.ts';
import { sseStreamEvents } from '../stream/decode-events.ts';
import { discard, postJson, trimSlash } from './http.ts';
import type { Provider, ProviderCallOptions } from './types.ts';

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
}

/** The `anthropic-version` header sent unless `headers` sets another. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** The Anthropic Messages API over HTTP: always streamed; a non-streaming call is the assembled stream. */
export function createAnthropicProvider(options: AnthropicProviderOptions = {}): Provider {
  const apiKey = options.apiKey ?? process.env.ANTHROPIC_API_KEY;
  const baseURL = trimSlash(options.baseURL ?? process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com');
  const version = options.version ?? DEFAULT_ANTHROPIC_VERSION;

  return {
    name: 'anthropic',
    capabilities: { prefill: true, tools: true, images: true, documents: true, thinking: true },
    stream(request: MessageCreateParams, call: ProviderCallOptions = {}): BatchedIterable<StreamEvent> {
      return batched(() => openedOnFirstPull(() => openStream(request, call)));
    },
  };

  async function openStream(
    request: MessageCreateParams,
    call: ProviderCallOptions,
  ): Promise<AsyncIterable<readonly StreamEvent[]>> {
    if (!apiKey) {
      throw new AuthenticationError(
        'No Anthropic API key: set ANTHROPIC_API_KEY (or pass apiKey) to use anthropic: models, or use sim:default.',
      );
    }
    const response = await postJson(
      `${baseURL}/v1/messages`,
      { ...request, stream: true },
      {
        headers: {
          accept: 'text/event-stream',
          'anthropic-version': version,
          ...options.headers,
          ...call.headers,
          'x-api-key': apiKey,
        },
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
    // One stage from bytes to events: a gateway relays events one network chunk at a time,
    // and each stacked stage would cost every event an await of its own.
    return batchesOf(sseStreamEvents(response.body, call.signal));
  }
}

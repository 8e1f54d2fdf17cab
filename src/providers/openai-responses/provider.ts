import { AuthenticationError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { decodeSSE } from '../../stream/sse.ts';
import { postJson, sluiceErrors, trimSlash } from '../http.ts';
import { decodeOpenAIChunks } from '../openai/client/chunks.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider, type ProviderCallOptions } from '../types.ts';
import { toResponsesRequest } from './client/request.ts';
import { responsesStreamToEvents } from './client/stream.ts';

/** Options of `createOpenAIResponsesProvider`; key and base URL default to `OPENAI_API_KEY` and `OPENAI_BASE_URL`. */
export interface OpenAIResponsesProviderOptions {
  /** Defaults to `OPENAI_API_KEY`. */
  apiKey?: string;
  /** Defaults to `OPENAI_BASE_URL`, then `https://api.openai.com/v1`. */
  baseURL?: string;
  headers?: Record<string, string>;
  /** Sends requests with this fetch instead of Node's own HTTP client. */
  fetch?: typeof fetch;
}

/** What the Responses API offers a Messages request: no prefill (resume restarts and skips), reasoning as thinking. */
export const OPENAI_RESPONSES_CAPABILITIES = {
  prefill: false,
  tools: true,
  images: true,
  documents: false,
  thinking: true,
} as const;

/**
 * A server that speaks OpenAI's Responses API (OpenAI itself, or another Sluice gateway),
 * translated to and from the canonical events at this edge, reasoning items included.
 * Requests are unstored and carry the whole conversation, so the resilient stream can ask
 * again; it cannot continue an assistant turn, so a resume restarts and skips.
 */
export function createOpenAIResponsesProvider(options: OpenAIResponsesProviderOptions = {}): Provider {
  const baseURL = trimSlash(options.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1');
  const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
  const isOpenAI = new URL(baseURL).hostname === 'api.openai.com';

  return {
    specificationVersion: PROVIDER_SPECIFICATION_VERSION,
    name: 'openai-responses',
    capabilities: OPENAI_RESPONSES_CAPABILITIES,
    async *stream(request: MessageCreateParams, call: ProviderCallOptions = {}): AsyncGenerator<StreamEvent> {
      if (!apiKey && isOpenAI) {
        throw new AuthenticationError('No OpenAI API key: set OPENAI_API_KEY (or pass apiKey).');
      }
      const response = await postJson(`${baseURL}/responses`, toResponsesRequest(request), {
        headers: {
          accept: 'text/event-stream',
          ...options.headers,
          ...call.headers,
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        signal: call.signal,
        fetch: options.fetch,
      });
      // The Responses stream's data lines are JSON objects, as Chat Completions' chunks are.
      const events = decodeOpenAIChunks(decodeSSE(response.body, { signal: call.signal }));
      yield* sluiceErrors(
        responsesStreamToEvents(events as AsyncIterable<Record<string, unknown>>, { model: request.model }),
      );
    },
  };
}

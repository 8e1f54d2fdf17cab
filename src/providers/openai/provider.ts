import { AuthenticationError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { decodeSSE } from '../../stream/sse.ts';
import { postJson, sluiceErrors, trimSlash } from '../http.ts';
import { runtimeEnv } from '../runtime-env.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider, type ProviderCallOptions } from '../types.ts';
import { decodeOpenAIChunks } from './client/chunks.ts';
import { type ToOpenAIRequestOptions, toOpenAIRequest } from './client/request.ts';
import { openAIStreamToEvents } from './client/stream.ts';

/** Options of `createOpenAIProvider`; key and base URL default to `OPENAI_API_KEY` and `OPENAI_BASE_URL`. */
export interface OpenAIProviderOptions {
  /** Defaults to `OPENAI_API_KEY`. Local servers (Ollama, llama.cpp) need none. */
  apiKey?: string;
  /** Defaults to `OPENAI_BASE_URL`, then `https://api.openai.com/v1`. */
  baseURL?: string;
  headers?: Record<string, string>;
  tokenLimitField?: ToOpenAIRequestOptions['tokenLimitField'];
  /** Sends requests with this fetch instead of Node's own HTTP client. */
  fetch?: typeof fetch;
}

/**
 * An OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM, llama.cpp server,
 * LM Studio), translated to and from the canonical events at this edge. Chat Completions
 * cannot continue an assistant turn, so it declares no prefill: resume restarts and skips.
 */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): Provider {
  const baseURL = trimSlash(options.baseURL ?? runtimeEnv().OPENAI_BASE_URL ?? 'https://api.openai.com/v1');
  const apiKey = options.apiKey ?? runtimeEnv().OPENAI_API_KEY;
  const isOpenAI = new URL(baseURL).hostname === 'api.openai.com';

  return {
    specificationVersion: PROVIDER_SPECIFICATION_VERSION,
    name: 'openai',
    capabilities: { prefill: false, tools: true, images: true, documents: false, thinking: false },
    async *stream(request: MessageCreateParams, call: ProviderCallOptions = {}): AsyncGenerator<StreamEvent> {
      if (!apiKey && isOpenAI) {
        throw new AuthenticationError(
          'No OpenAI API key: set OPENAI_API_KEY (or pass apiKey), or point OPENAI_BASE_URL at a local server.',
        );
      }
      // Always streamed: a non-streaming call is the assembled stream, with usage either way.
      const body = toOpenAIRequest(
        { ...request, stream: true },
        { includeUsage: true, tokenLimitField: options.tokenLimitField },
      );
      const response = await postJson(`${baseURL}/chat/completions`, body, {
        headers: {
          accept: 'text/event-stream',
          ...options.headers,
          ...call.headers,
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        signal: call.signal,
        fetch: options.fetch,
      });
      const chunks = decodeOpenAIChunks(decodeSSE(response.body, { signal: call.signal }));
      yield* sluiceErrors(openAIStreamToEvents(chunks, { model: request.model }));
    },
  };
}

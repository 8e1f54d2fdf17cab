/**
 * The one request every path streams, in the two wire formats. The simulator answers this
 * prompt at length, so `max_tokens: 64` cuts it at exactly 64 text deltas.
 */
import type { RequestSpec } from './load.ts';

export const PROMPT = 'Write a long essay on rivers, in detail.';
export const MAX_TOKENS = 64;
/** Text deltas in one answer (checked against the upstream before every bench run). */
export const EXPECTED_DELTAS = MAX_TOKENS;

/** The body both wire formats share: the prompt, streamed, cut at MAX_TOKENS. */
function streamingBody(model: string): string {
  return JSON.stringify({
    model,
    max_tokens: MAX_TOKENS,
    stream: true,
    messages: [{ role: 'user', content: PROMPT }],
  });
}

export function anthropicRequest(
  url: string,
  headers: Record<string, string> = {},
  model = 'default',
): RequestSpec {
  return {
    url,
    path: '/v1/messages',
    headers: { 'x-api-key': 'sk-bench', 'anthropic-version': '2023-06-01', ...headers },
    body: streamingBody(model),
    format: 'anthropic',
  };
}

export function openaiRequest(
  url: string,
  headers: Record<string, string> = {},
  model = 'default',
): RequestSpec {
  return {
    url,
    path: '/v1/chat/completions',
    headers: { authorization: 'Bearer sk-bench', ...headers },
    body: streamingBody(model),
    format: 'openai',
  };
}

/** The same request without streaming (Portkey's probe). */
export function nonStreaming(request: RequestSpec): RequestSpec {
  return { ...request, body: JSON.stringify({ ...JSON.parse(request.body), stream: false }) };
}

import type { Price } from '../../client/usage.ts';
import type { Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { countRequestTokens } from '../../providers/simulated/request-tokens.ts';

// Float noise (0.1 + 0.2) must not round a whole micro-dollar up.
const ceil = (value: number) => Math.ceil(value - 1e-9);

/**
 * The most input tokens `request` can cost. The simulated model counts exactly what it will
 * bill; for any other provider, the request's UTF-8 bytes as JSON: a BPE token covers at least
 * one byte, so this bounds every tokenizer (loosely, about four times: a reservation, not a charge).
 */
export function maxInputTokens(request: MessageCreateParams, provider: string): number {
  if (provider === 'sim') return countRequestTokens(request);
  const { system, messages, tools } = request;
  return Buffer.byteLength(JSON.stringify({ system, messages, tools }));
}

/**
 * The most a request can cost in micro-dollars: its input (at the dearer of the input and
 * cache-write prices) and `max_tokens` of output. A price in USD per million tokens is, per
 * token, the same number in micro-dollars.
 */
export function worstCaseMicros(request: MessageCreateParams, provider: string, price: Price): number {
  const inputPrice = Math.max(price.input, price.cacheWrite ?? price.input);
  return ceil(maxInputTokens(request, provider) * inputPrice + request.max_tokens * price.output);
}

/** What `usage` costs at `price`, in micro-dollars (rounded up, as the reservations are). */
export function costMicros(usage: Usage, price: Price): number {
  return ceil(
    usage.input_tokens * price.input +
      usage.output_tokens * price.output +
      (usage.cache_creation_input_tokens ?? 0) * (price.cacheWrite ?? price.input) +
      (usage.cache_read_input_tokens ?? 0) * (price.cacheRead ?? price.input),
  );
}

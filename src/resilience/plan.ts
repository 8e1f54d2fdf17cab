import { isBlock, type TextBlock } from '../protocol/content.ts';
import { type MessageCreateParams, type MessageParam, thinkingRequested } from '../protocol/request.ts';
import type { ProviderCapabilities } from '../providers/types.ts';
import type { MessageAssembler } from '../stream/assemble.ts';
import type { AttemptPlan } from './splice.ts';

export type NextAttempt =
  | { plan: AttemptPlan; request: MessageCreateParams }
  /** The consumer already has every token max_tokens allows: end the message without asking again. */
  | { plan: { mode: 'finish' }; request?: undefined };

/**
 * How to ask again after a failure, given what the consumer already has; `undefined` when
 * the answer cannot be continued (resume is off and content was delivered).
 *
 * Text only, thinking off, and a provider that takes a prefill: continue by prefill, the
 * cheapest and the most exact. Anything else (a finished tool call, a thinking or server tool
 * block, a request with thinking on, which the API refuses a prefill for, a provider without
 * prefill): ask again from the start and check that the answer repeats what was delivered.
 */
export function planNextAttempt(
  original: MessageCreateParams,
  delivered: MessageAssembler,
  capabilities: ProviderCapabilities,
  options: { resume: boolean; deliveredTokens: number },
): NextAttempt | undefined {
  const content = delivered.message?.content ?? [];
  if (content.length === 0) return { plan: { mode: 'fresh' }, request: original };
  if (!options.resume) return undefined;

  const { history, prefill } = splitPrefill(original.messages);
  const texts = content.filter((block) => isBlock(block, 'text'));
  // The API rejects an assistant prefill when thinking is on, even after text alone.
  const prefillAllowed = capabilities.prefill && !thinkingRequested(original);
  if (prefillAllowed && prefill !== undefined && texts.length === content.length) {
    const full = prefill + textOf(texts);
    // Anthropic rejects an assistant prefill that ends in white space.
    const trimmed = full.trimEnd();
    const remaining = original.max_tokens - options.deliveredTokens;
    // Every delta carries at least one token: the answer already reached max_tokens.
    if (remaining <= 0) return { plan: { mode: 'finish' } };
    if (trimmed !== '') {
      return {
        plan: { mode: 'resume', skip: full.slice(trimmed.length) },
        request: {
          ...original,
          messages: [...history, { role: 'assistant', content: trimmed }],
          // The continuation's own length counts against max_tokens: shorten it by what was delivered.
          max_tokens: remaining,
        },
      };
    }
  }
  return { plan: { mode: 'restart' }, request: original };
}

/**
 * The conversation and the text of a trailing assistant turn (the caller's own prefill), or
 * `prefill: undefined` when that turn holds more than text and cannot be extended.
 */
function splitPrefill(messages: MessageParam[]): { history: MessageParam[]; prefill: string | undefined } {
  const last = messages.at(-1);
  if (last?.role !== 'assistant') return { history: messages, prefill: '' };
  const history = messages.slice(0, -1);
  if (typeof last.content === 'string') return { history, prefill: last.content };
  const texts = last.content.filter((block) => isBlock(block, 'text'));
  if (texts.length !== last.content.length) return { history, prefill: undefined };
  return { history, prefill: textOf(texts) };
}

function textOf(blocks: readonly TextBlock[]): string {
  return blocks.map((block) => block.text).join('');
}

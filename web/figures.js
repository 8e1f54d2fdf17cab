import { addUsage } from './answer.js';

/**
 * The figures shown under an answer: time to first token, tokens per second, tokens in and
 * out, and the cost at the model's prices (USD per million tokens, from `GET /v1/models`).
 *
 * @param {import('./store.js').AssistantTurn} turn
 * @returns {{ name: string, text: string }[]}
 */
export function figuresOf(turn) {
  const figures = [];
  // Over every model call of the answer: one more after each tool result.
  const usage = addUsage(turn.usageDone, turn.answer.usage);
  if (turn.firstTokenAt !== undefined) {
    figures.push({ name: 'ttft', text: `TTFT ${Math.round(turn.firstTokenAt - turn.sentAt)} ms` });
    const end = turn.endAt ?? Date.now();
    const seconds = (end - turn.firstTokenAt) / 1000;
    if (turn.endAt !== undefined && seconds > 0 && usage.output_tokens) {
      figures.push({ name: 'speed', text: `${(usage.output_tokens / seconds).toFixed(1)} tok/s` });
    }
  }
  if (usage.input_tokens !== undefined || usage.output_tokens !== undefined) {
    figures.push({ name: 'tokens', text: `${usage.input_tokens ?? 0} in · ${usage.output_tokens ?? 0} out` });
    const cost = costOf(usage, turn.pricing);
    figures.push({ name: 'cost', text: cost === undefined ? 'cost unknown' : `$${cost.toFixed(4)}` });
  }
  return figures;
}

/** The cost in USD of `usage` at `pricing`; undefined without a price. */
export function costOf(usage, pricing) {
  if (!pricing) return undefined;
  const per = (price, tokens) => ((price ?? 0) * (tokens ?? 0)) / 1_000_000;
  return (
    per(pricing.input, usage.input_tokens) +
    per(pricing.output, usage.output_tokens) +
    per(pricing.cache_read, usage.cache_read_input_tokens) +
    per(pricing.cache_write, usage.cache_creation_input_tokens)
  );
}

import { emptyUsage, type Usage } from '../protocol/message.ts';
import { addUsage } from '../protocol/usage.ts';

/** Dollars per million tokens. */
export interface Price {
  input: number;
  output: number;
  /** Cache writes with the default five-minute lifetime. */
  cacheWrite?: number;
  /** Cache writes that live an hour (`ttl: '1h'`); default twice the input price, as Anthropic bills them. */
  cacheWrite1h?: number;
  cacheRead?: number;
}

/**
 * List prices in USD per million tokens (from the providers' published pricing pages,
 * November 2025). Extend or override per client with `prices`; a model missing here counts
 * its tokens but adds no cost (see `Totals.unpricedCalls`).
 */
export const DEFAULT_PRICES: Record<string, Price> = {
  'anthropic:claude-opus-4-1': { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 },
  'anthropic:claude-opus-4': { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 },
  'anthropic:claude-sonnet-4-5': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'anthropic:claude-sonnet-4': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'anthropic:claude-haiku-4-5': { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 },
  'anthropic:claude-3-5-haiku-latest': { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 },
  'openai:gpt-4o': { input: 2.5, output: 10, cacheRead: 1.25 },
  'openai:gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075 },
  'openai:gpt-4.1': { input: 2, output: 8, cacheRead: 0.5 },
  'openai:gpt-4.1-mini': { input: 0.4, output: 1.6, cacheRead: 0.1 },
};

/** The price of a `provider:model`, exact match first, then the simulator (free). */
export function priceOf(model: string, prices: Record<string, Price>): Price | undefined {
  if (prices[model]) return prices[model];
  return model.startsWith('sim:') ? { input: 0, output: 0 } : undefined;
}

/** The cost in USD of `usage` at `price` (cache reads and writes at their own rates). */
export function costOf(usage: Usage, price: Price): number {
  const perToken = (dollarsPerMillion: number | undefined, tokens: number | null | undefined) =>
    ((dollarsPerMillion ?? 0) * (tokens ?? 0)) / 1_000_000;
  // Writes that live an hour cost more; the API says how many there were in `cache_creation`.
  const hourWrites = hourCacheWrites(usage);
  return (
    perToken(price.input, usage.input_tokens) +
    perToken(price.output, usage.output_tokens) +
    perToken(price.cacheWrite ?? price.input, (usage.cache_creation_input_tokens ?? 0) - hourWrites) +
    perToken(price.cacheWrite1h ?? price.input * 2, hourWrites) +
    perToken(price.cacheRead ?? price.input, usage.cache_read_input_tokens)
  );
}

/** The cache writes of `usage` that live an hour, from its `cache_creation` breakdown (none without one). */
function hourCacheWrites(usage: Usage): number {
  const breakdown = (usage as { cache_creation?: { ephemeral_1h_input_tokens?: unknown } }).cache_creation;
  const hour = breakdown?.ephemeral_1h_input_tokens;
  const total = usage.cache_creation_input_tokens ?? 0;
  return typeof hour === 'number' && hour > 0 ? Math.min(hour, total) : 0;
}

/** Usage and cost summed over calls; prints as `In: 8; Out: 29; Cache: 0 read, 0 written; Total: 37`. */
export class Totals {
  cost = 0;
  calls = 0;
  unpricedCalls = 0;
  private sum: Usage = emptyUsage();

  get input(): number {
    return this.sum.input_tokens;
  }
  get output(): number {
    return this.sum.output_tokens;
  }
  get cacheRead(): number {
    return this.sum.cache_read_input_tokens ?? 0;
  }
  get cacheWrite(): number {
    return this.sum.cache_creation_input_tokens ?? 0;
  }
  get total(): number {
    return this.input + this.output + this.cacheRead + this.cacheWrite;
  }

  /** One more call's usage (its attempts already summed by the resilient stream). */
  add(usage: Usage, price: Price | undefined): void {
    this.sum = addUsage(this.sum, usage);
    this.calls++;
    if (price) this.cost += costOf(usage, price);
    else this.unpricedCalls++;
  }

  toString(): string {
    return `In: ${this.input}; Out: ${this.output}; Cache: ${this.cacheRead} read, ${this.cacheWrite} written; Total: ${this.total}`;
  }

  toJSON(): Record<string, number> {
    return {
      input: this.input,
      output: this.output,
      cacheRead: this.cacheRead,
      cacheWrite: this.cacheWrite,
      total: this.total,
      cost: this.cost,
      calls: this.calls,
    };
  }
}

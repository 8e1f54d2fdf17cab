import { DEFAULT_PRICES, type Price, priceOf } from '../client/usage.ts';

/**
 * The gateway's price table: the built-in list prices (DEFAULT_PRICES) with the
 * configuration's `prices` over them, looked up by the model's `provider:model` and then by
 * the alias the caller asked for. Budgets, the ledger and `GET /v1/models` all read it here.
 */
export class PriceTable {
  private readonly prices: Record<string, Price>;

  constructor(configured: Record<string, Price> = {}) {
    this.prices = { ...DEFAULT_PRICES, ...configured };
  }

  /** The price of `ref` (provider:model), else of the alias `asked`; undefined when neither has one. */
  of(ref: string, asked?: string): Price | undefined {
    if (this.prices[ref]) return this.prices[ref];
    if (asked !== undefined && this.prices[asked]) return this.prices[asked];
    return priceOf(ref, this.prices);
  }
}

import type { Price } from '../../client/usage.ts';
import { emptyUsage, type Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { addUsage } from '../../protocol/usage.ts';
import type { RetryInfo } from '../../stream/message-stream.ts';
import type { ResolvedModel } from '../models.ts';
import type { PriceTable } from '../prices.ts';
import { BudgetExceededError, ModelNotAllowedError } from './errors.ts';
import { formatUsd, type KeyRecord, type KeyStore } from './key-store.ts';
import { periodReset } from './periods.ts';
import { costMicros, worstCaseMicros } from './worst-case.ts';

/** What the meter needs of the gateway: the store, the prices, and where a failed settlement is reported. */
export interface Metering {
  store: KeyStore;
  prices: PriceTable;
  warn(message: string): void;
}

/**
 * One model call's budget and ledger row: before the first attempt it checks the key's
 * models and reserves the call's worst case; before every further attempt (a retry, a
 * resume, a fallback) it reserves that attempt's worst case too, so a call that cannot pay
 * for its next attempt ends there; at the end it settles every reservation to the cost of
 * the usage summed over the attempts and writes the ledger row, in one transaction.
 */
export class CallMeter {
  private reserved = 0;
  private cost = 0;
  private usage: Usage = emptyUsage();
  private attempts = 0;
  private resumes = 0;
  private fallbacks = 0;
  private model: ResolvedModel;
  private modelUsed: string | undefined;
  private firstTokenAt: number | undefined;
  private settled = false;
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly metering: Metering;
  private readonly key: KeyRecord | undefined;
  private readonly route: string;
  private readonly asked: string;

  constructor(
    metering: Metering,
    key: KeyRecord | undefined,
    route: string,
    asked: string,
    chain: readonly ResolvedModel[],
  ) {
    this.metering = metering;
    this.key = key;
    this.route = route;
    this.asked = asked;
    this.model = chain[0]!;
    this.now = metering.store.now;
    this.startedAt = this.now();
  }

  /** Before the first attempt: the key may use the model, and can pay for the most it may cost. */
  async admit(request: MessageCreateParams): Promise<void> {
    const allowed = this.key?.models;
    if (allowed && !allowed.includes(this.asked) && !allowed.includes(this.model.ref)) {
      throw new ModelNotAllowedError(
        `This key may not use the model ${this.asked}; it may use: ${allowed.join(', ')}.`,
      );
    }
    await this.reserveFor(this.model, request);
  }

  /** Before a retry or resume asks the model again (RetryInfo's mode: `reattach` asks nothing and costs nothing). */
  readonly beforeAttempt = async (request: MessageCreateParams, info: RetryInfo): Promise<void> => {
    if (info.mode === 'reattach') return;
    await this.reserveFor(this.model, request);
    if (info.mode !== 'retry') this.resumes++;
  };

  /** Before the next model of the chain is tried. */
  readonly beforeFallback = async (next: ResolvedModel, request: MessageCreateParams): Promise<void> => {
    this.model = next;
    await this.reserveFor(next, request);
    this.fallbacks++;
  };

  /** One model's usage, every attempt on it summed (the resilient stream reports it once per model). */
  readonly onUsage = (usage: Usage): void => {
    this.usage = addUsage(this.usage, usage);
    const price = this.metering.prices.of(this.model.ref, this.asked);
    if (price) this.cost += costMicros(usage, price);
  };

  readonly onModel = (model: ResolvedModel): void => {
    this.modelUsed = model.ref;
  };

  readonly onFirstToken = (): void => {
    this.firstTokenAt ??= this.now();
  };

  /** Settles the reservations to the real cost and writes the ledger row; once, however the call ended. */
  async settle(end: { status: number; streamId?: string }): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      await this.metering.store.settle(this.reserved, {
        keyId: this.key?.id,
        route: this.route,
        modelRequested: this.asked,
        modelUsed: this.modelUsed,
        inputTokens: this.usage.input_tokens,
        outputTokens: this.usage.output_tokens,
        cacheReadTokens: this.usage.cache_read_input_tokens ?? 0,
        cacheWriteTokens: this.usage.cache_creation_input_tokens ?? 0,
        costMicros: this.cost,
        attempts: this.attempts,
        resumes: this.resumes,
        fallbacks: this.fallbacks,
        ttftMs: this.firstTokenAt === undefined ? undefined : this.firstTokenAt - this.startedAt,
        durationMs: this.now() - this.startedAt,
        status: end.status,
        streamId: end.streamId,
        createdAt: this.startedAt,
      });
    } catch (error) {
      // The answer is delivered: a ledger that cannot be written is the operator's to see, not the caller's.
      this.metering.warn(`The ledger row of a call could not be written: ${(error as Error).message}`);
    }
  }

  private async reserveFor(model: ResolvedModel, request: MessageCreateParams): Promise<void> {
    if (!this.key) {
      this.attempts++;
      return;
    }
    const price = this.priceFor(model);
    // A key without a budget is not limited, but its reservation keeps its spend settling the same way.
    const amount = price ? worstCaseMicros(request, model.provider.name, price) : 0;
    const reservation = await this.metering.store.reserve(this.key, amount);
    if (!reservation.granted) throw this.overBudget(reservation.key ?? this.key, amount);
    // Counted once granted: a refused attempt never reached the model.
    this.attempts++;
    this.reserved += amount;
  }

  private priceFor(model: ResolvedModel): Price | undefined {
    const price = this.metering.prices.of(model.ref, this.asked);
    if (!price && this.key?.budgetMicros !== undefined) {
      throw new ModelNotAllowedError(
        `The model ${model.ref} has no price, so a key with a budget cannot use it; add it to \`prices\` in the gateway's configuration.`,
      );
    }
    return price;
  }

  private overBudget(key: KeyRecord, amount: number): BudgetExceededError {
    if (key.revokedAt !== undefined) return new BudgetExceededError('This key has been revoked.');
    const budget = formatUsd(key.budgetMicros ?? 0);
    const used = formatUsd(key.spentMicros + key.reservedMicros);
    const reset = periodReset(key.period, this.now());
    const when =
      reset === undefined
        ? 'It does not reset: ask for a larger budget.'
        : `It resets at ${new Date(reset).toISOString()}.`;
    const period = key.period === 'total' ? 'total' : key.period === 'day' ? 'daily' : 'monthly';
    return new BudgetExceededError(
      `This call may cost up to ${formatUsd(amount)}, more than is left of the key's ${period} budget of ${budget} (${used} spent or held by calls in flight). ${when} A smaller max_tokens needs less.`,
    );
  }
}

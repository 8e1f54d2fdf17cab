/** How often a key's budget starts again: each UTC day, each UTC month, or never. */
export type BudgetPeriod = 'day' | 'month' | 'total';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'month', 'total'];

/** When the period holding `now` began (ms since the epoch, UTC); 0 for `total`. */
export function periodStart(period: BudgetPeriod, now: number): number {
  const date = new Date(now);
  if (period === 'day') return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  if (period === 'month') return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
  return 0;
}

/** When the period holding `now` ends and the budget is whole again; undefined for `total`. */
export function periodReset(period: BudgetPeriod, now: number): number | undefined {
  const date = new Date(now);
  if (period === 'day') return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
  if (period === 'month') return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  return undefined;
}

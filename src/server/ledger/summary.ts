import type { CallRecord } from '../keys/key-store.ts';

/** How usage is grouped: by the model that answered, by key, or by UTC day. */
export type UsageGrouping = 'model' | 'key' | 'day';
export const USAGE_GROUPINGS: readonly UsageGrouping[] = ['model', 'key', 'day'];

/** The ledger's rows of one group, summed. Cost in USD. */
export interface UsageSummary {
  group: string;
  /** Calls that reached a model. */
  calls: number;
  /** Calls refused before any model was asked (budget, allowed models). */
  refused: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

/** What a group is called: the model, the key's name (its id when unknown, `-` for none), or the day. */
function groupOf(call: CallRecord, by: UsageGrouping, keyNames: ReadonlyMap<string, string>): string {
  if (by === 'model') return call.modelUsed ?? call.modelRequested;
  if (by === 'key') return call.keyId === undefined ? '-' : (keyNames.get(call.keyId) ?? call.keyId);
  return new Date(call.createdAt).toISOString().slice(0, 10);
}

/** Sums ledger rows per group, groups in order of first appearance (days ascending, as the rows are). */
export function summarizeUsage(
  calls: readonly CallRecord[],
  by: UsageGrouping,
  keyNames: ReadonlyMap<string, string> = new Map(),
): UsageSummary[] {
  const groups = new Map<string, UsageSummary & { micros: number }>();
  for (const call of calls) {
    const group = groupOf(call, by, keyNames);
    const sum = groups.get(group) ?? {
      group,
      calls: 0,
      refused: 0,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0,
      micros: 0,
    };
    if (call.attempts > 0) sum.calls++;
    else sum.refused++;
    sum.inputTokens += call.inputTokens;
    sum.outputTokens += call.outputTokens;
    sum.cacheReadTokens += call.cacheReadTokens;
    sum.cacheWriteTokens += call.cacheWriteTokens;
    sum.micros += call.costMicros;
    groups.set(group, sum);
  }
  // Summed in whole micro-dollars, converted once: no float drift over many rows.
  return [...groups.values()].map(({ micros, ...sum }) => ({ ...sum, costUsd: micros / 1_000_000 }));
}

/**
 * A time as the usage commands and routes take it: a duration back from now (`7d`, `12h`,
 * `30m`), an ISO 8601 date or time, or milliseconds since the epoch. Undefined when it is none of these.
 */
export function parseSince(value: string, now: number = Date.now()): number | undefined {
  const duration = /^(\d+)([dhm])$/.exec(value);
  if (duration) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[duration[2] as 'd' | 'h' | 'm'];
    return now - Number(duration[1]) * unit;
  }
  if (/^\d{10,}$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date;
}

import { type KeyRecord, usd } from './key-store.ts';
import { periodReset } from './periods.ts';

/** A key as the admin API and `sluice keys list --json` show it (never its secret or digest). */
export interface KeyView {
  id: string;
  name: string;
  budget_usd: number | null;
  period: string;
  rpm: number | null;
  models: string[] | null;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number | null;
  resets_at: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function keyView(key: KeyRecord, now: number = Date.now()): KeyView {
  return {
    id: key.id,
    name: key.name,
    budget_usd: key.budgetMicros === undefined ? null : usd(key.budgetMicros),
    period: key.period,
    rpm: key.rpm ?? null,
    models: key.models ?? null,
    spent_usd: usd(key.spentMicros),
    reserved_usd: usd(key.reservedMicros),
    remaining_usd:
      key.budgetMicros === undefined
        ? null
        : usd(Math.max(0, key.budgetMicros - key.spentMicros - key.reservedMicros)),
    resets_at: key.budgetMicros === undefined ? null : iso(periodReset(key.period, now)),
    created_at: new Date(key.createdAt).toISOString(),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
  };
}

import { randomUUID } from 'node:crypto';
import type { Row, SqlDatabase } from '../store/database.ts';
import { type BudgetPeriod, periodStart } from './periods.ts';
import { keyHash, newKeyId, newSecretKey } from './secret.ts';

/** A gateway key as the store keeps it (never the key itself). Money in micro-dollars. */
export interface KeyRecord {
  id: string;
  name: string;
  /** Undefined: no budget. */
  budgetMicros?: number;
  period: BudgetPeriod;
  /** Requests a minute; undefined: the gateway's `server.rateLimit`. */
  rpm?: number;
  /** Models or aliases the key may call; undefined: any. */
  models?: string[];
  /** Settled spend in the current period (as of the last reservation or settlement). */
  spentMicros: number;
  /** Reserved by calls in flight. */
  reservedMicros: number;
  periodStart: number;
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** What `sluice keys create` and `POST /admin/keys` take. */
export interface NewKey {
  name: string;
  budgetUsd?: number;
  period?: BudgetPeriod;
  rpm?: number;
  models?: string[];
}

/** One row of the ledger: a call as it ended. */
export interface CallRecord {
  keyId?: string;
  route: string;
  modelRequested: string;
  modelUsed?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costMicros: number;
  attempts: number;
  resumes: number;
  fallbacks: number;
  ttftMs?: number;
  durationMs: number;
  status: number;
  streamId?: string;
  createdAt: number;
}

/** The result of a reservation: granted, or refused with the key as it stood. */
export type Reservation = { granted: true } | { granted: false; key: KeyRecord | undefined };

/** Which ledger rows a usage query sums. */
export interface CallFilter {
  keyId?: string;
  from?: number;
  to?: number;
}

export const usd = (micros: number) => micros / 1_000_000;
/** Micro-dollars as a price is read: cents when whole, else to the micro-dollar. */
export const formatUsd = (amount: number) => `$${usd(amount).toFixed(amount % 10_000 === 0 ? 2 : 6)}`;
export const micros = (usdAmount: number) => Math.round(usdAmount * 1_000_000);

/**
 * Keys, budgets and the ledger over one SQL database (SQLite or PostgreSQL: the same
 * statements). Every budget change is one conditional UPDATE, so any number of requests on
 * any number of instances cannot together reserve more than a budget holds.
 */
export class KeyStore {
  readonly db: SqlDatabase;
  /** The store's clock (periods, timestamps); a test's clock in tests, which every user of the store follows. */
  readonly now: () => number;

  constructor(db: SqlDatabase, now: () => number = Date.now) {
    this.db = db;
    this.now = now;
  }

  /** Creates a key; the secret is returned here once and kept only as its digest. */
  async create(input: NewKey): Promise<{ key: string; record: KeyRecord }> {
    const key = newSecretKey();
    const id = newKeyId();
    const period = input.period ?? 'month';
    const now = this.now();
    await this.db.query(
      `INSERT INTO sluice_keys (id, name, key_hash, budget_micros, period, rpm, models, period_start, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        input.name,
        keyHash(key),
        input.budgetUsd === undefined ? null : micros(input.budgetUsd),
        period,
        input.rpm ?? null,
        input.models === undefined ? null : JSON.stringify(input.models),
        periodStart(period, now),
        now,
      ],
    );
    return { key, record: (await this.byId(id))! };
  }

  /** The live (not revoked) key with this secret; read from the database on every call, so a revoke holds at once everywhere. */
  async bySecret(secret: string): Promise<KeyRecord | undefined> {
    return this.byHash(keyHash(secret));
  }

  /** The live key whose digest is `hash` (a durable stream's owner), as `bySecret`. */
  async byHash(hash: string): Promise<KeyRecord | undefined> {
    const rows = await this.db.query('SELECT * FROM sluice_keys WHERE key_hash = $1 AND revoked_at IS NULL', [
      hash,
    ]);
    return rows[0] && this.withRollover(toKey(rows[0]));
  }

  async byId(id: string): Promise<KeyRecord | undefined> {
    const rows = await this.db.query('SELECT * FROM sluice_keys WHERE id = $1', [id]);
    return rows[0] && this.withRollover(toKey(rows[0]));
  }

  /** Every key, revoked ones included, oldest first. */
  async list(): Promise<KeyRecord[]> {
    const rows = await this.db.query('SELECT * FROM sluice_keys ORDER BY created_at, id');
    return rows.map((row) => this.withRollover(toKey(row)));
  }

  /** Revokes a key; false when no live key has this id. */
  async revoke(id: string): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE sluice_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
      [id, this.now()],
    );
    return rows.length > 0;
  }

  /**
   * Reserves `amount` micro-dollars of the key's budget in one conditional UPDATE: granted
   * only when the settled spend of the current period (zero once it rolled over), the other
   * reservations and this one fit. A key without a budget is always granted (its
   * reservation still counts, so its spend settles the same way).
   */
  async reserve(key: KeyRecord, amount: number): Promise<Reservation> {
    const start = periodStart(key.period, this.now());
    const rows = await this.db.query(
      `UPDATE sluice_keys SET
         spent_micros = CASE WHEN period_start < $2 THEN 0 ELSE spent_micros END,
         period_start = CASE WHEN period_start < $2 THEN $2 ELSE period_start END,
         reserved_micros = reserved_micros + $3
       WHERE id = $1 AND revoked_at IS NULL AND (budget_micros IS NULL OR
         (CASE WHEN period_start < $2 THEN 0 ELSE spent_micros END) + reserved_micros + $3 <= budget_micros)
       RETURNING id`,
      [key.id, start, amount],
    );
    if (rows.length > 0) return { granted: true };
    return { granted: false, key: await this.byId(key.id) };
  }

  /**
   * Ends a call: its reservations released, its real cost added to the key's spend and its
   * ledger row written, in one transaction (the ledger and the budgets never disagree).
   */
  async settle(reservedMicros: number, call: CallRecord): Promise<void> {
    const row = ledgerRow(call);
    const columns = Object.keys(row);
    const statements = [
      {
        sql: `INSERT INTO sluice_calls (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        params: Object.values(row),
      },
    ];
    if (call.keyId !== undefined) {
      statements.push({
        sql: `UPDATE sluice_keys SET reserved_micros = reserved_micros - $2, spent_micros = spent_micros + $3,
                last_used_at = $4 WHERE id = $1`,
        params: [call.keyId, reservedMicros, call.costMicros, call.createdAt],
      });
    }
    await this.db.batch(statements);
  }

  /** The ledger's rows, oldest first. */
  async calls(filter: CallFilter = {}): Promise<CallRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.keyId !== undefined) add('key_id = ?', filter.keyId);
    if (filter.from !== undefined) add('created_at >= ?', filter.from);
    if (filter.to !== undefined) add('created_at < ?', filter.to);
    const rows = await this.db.query(
      `SELECT * FROM sluice_calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      params,
    );
    return rows.map(toCall);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // A key read after its period ended shows the new period's spend, though no reservation has reset it yet.
  private withRollover(key: KeyRecord): KeyRecord {
    const start = periodStart(key.period, this.now());
    return key.periodStart < start ? { ...key, spentMicros: 0, periodStart: start } : key;
  }
}

const optional = (value: unknown) => (value === null || value === undefined ? undefined : Number(value));

function toKey(row: Row): KeyRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    budgetMicros: optional(row.budget_micros),
    period: row.period as BudgetPeriod,
    rpm: optional(row.rpm),
    models: row.models === null ? undefined : (JSON.parse(String(row.models)) as string[]),
    spentMicros: Number(row.spent_micros),
    reservedMicros: Number(row.reserved_micros),
    periodStart: Number(row.period_start),
    createdAt: Number(row.created_at),
    lastUsedAt: optional(row.last_used_at),
    revokedAt: optional(row.revoked_at),
  };
}

function ledgerRow(call: CallRecord): Record<string, unknown> {
  return {
    id: randomUUID(),
    key_id: call.keyId ?? null,
    route: call.route,
    model_requested: call.modelRequested,
    model_used: call.modelUsed ?? null,
    input_tokens: call.inputTokens,
    output_tokens: call.outputTokens,
    cache_read_tokens: call.cacheReadTokens,
    cache_write_tokens: call.cacheWriteTokens,
    cost_micros: call.costMicros,
    attempts: call.attempts,
    resumes: call.resumes,
    fallbacks: call.fallbacks,
    ttft_ms: call.ttftMs ?? null,
    duration_ms: call.durationMs,
    status: call.status,
    stream_id: call.streamId ?? null,
    created_at: call.createdAt,
  };
}

function toCall(row: Row): CallRecord {
  return {
    keyId: row.key_id === null ? undefined : String(row.key_id),
    route: String(row.route),
    modelRequested: String(row.model_requested),
    modelUsed: row.model_used === null ? undefined : String(row.model_used),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheWriteTokens: Number(row.cache_write_tokens),
    costMicros: Number(row.cost_micros),
    attempts: Number(row.attempts),
    resumes: Number(row.resumes),
    fallbacks: Number(row.fallbacks),
    ttftMs: optional(row.ttft_ms),
    durationMs: Number(row.duration_ms),
    status: Number(row.status),
    streamId: row.stream_id === null ? undefined : String(row.stream_id),
    createdAt: Number(row.created_at),
  };
}

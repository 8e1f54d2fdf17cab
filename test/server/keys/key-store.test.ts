import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../src/server/keys/key-store.ts';
import { KeyStore } from '../../../src/server/keys/key-store.ts';
import { migrate } from '../../../src/server/store/migrations.ts';
import { BACKENDS, postgresForTest, postgresForTests, type TestDatabase } from './databases.ts';

const HOUR = 3_600_000;
const JAN_31_23H = Date.UTC(2026, 0, 31, 23);

function call(keyId: string, costMicros: number, createdAt: number): CallRecord {
  return {
    keyId,
    route: '/v1/messages',
    modelRequested: 'sim:default',
    modelUsed: 'sim:default',
    inputTokens: 10,
    outputTokens: 20,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costMicros,
    attempts: 1,
    resumes: 0,
    fallbacks: 0,
    ttftMs: 5,
    durationMs: 9,
    status: 200,
    createdAt,
  };
}

// The same suite against each backend: one repository, one behaviour.
describe.each(BACKENDS)('the key store on $name', (backend) => {
  let database: TestDatabase;
  let store: KeyStore;
  let now = JAN_31_23H;
  let available = false;

  beforeAll(async () => {
    available = await backend.available();
    if (!available) return;
    database = backend.make();
    store = new KeyStore(await database.open(), () => now);
  });
  afterAll(async () => {
    if (!available) return;
    await store.close();
    await database.drop();
  });

  it('keeps a key only as its digest, and finds it by its secret until it is revoked', async (context) => {
    if (!available) return context.skip();
    const { key, record } = await store.create({
      name: 'team-a',
      budgetUsd: 5,
      period: 'day',
      models: ['sim:default'],
    });
    expect(key).toMatch(/^sk-sluice-[A-Za-z0-9_-]{43}$/);
    const rows = await store.db.query('SELECT * FROM sluice_keys');
    expect(JSON.stringify(rows)).not.toContain(key);
    if (store.db.dialect === 'sqlite') {
      const file = store.db.location;
      expect(readFileSync(file).includes(key)).toBe(false);
    }
    expect(await store.bySecret(key)).toMatchObject({
      id: record.id,
      name: 'team-a',
      budgetMicros: 5_000_000,
      models: ['sim:default'],
    });
    expect(await store.bySecret(`${key}x`)).toBeUndefined();
    expect(await store.revoke(record.id)).toBe(true);
    expect(await store.revoke(record.id)).toBe(false);
    expect(await store.bySecret(key)).toBeUndefined();
    expect((await store.list()).find((k) => k.id === record.id)?.revokedAt).toBe(now);
  });

  it('grants reservations only while they fit the budget, concurrently too', async (context) => {
    if (!available) return context.skip();
    const { record } = await store.create({ name: 'budget', budgetUsd: 1, period: 'total' });
    // 50 reservations of $0.10 at once against $1: exactly 10 fit, whatever their order.
    const results = await Promise.all(Array.from({ length: 50 }, () => store.reserve(record, 100_000)));
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    expect((await store.byId(record.id))?.reservedMicros).toBe(1_000_000);
    // Settling to less than reserved frees the rest for the next call.
    await store.settle(100_000, call(record.id, 40_000, now));
    expect(await store.byId(record.id)).toMatchObject({
      reservedMicros: 900_000,
      spentMicros: 40_000,
      lastUsedAt: now,
    });
    expect((await store.reserve(record, 60_000)).granted).toBe(true);
    const refused = await store.reserve(record, 1);
    expect(refused).toMatchObject({ granted: false, key: { id: record.id } });
  });

  it('starts a day budget again when the day rolls over, keeping reservations in flight', async (context) => {
    if (!available) return context.skip();
    now = JAN_31_23H;
    const { record } = await store.create({ name: 'daily', budgetUsd: 0.5, period: 'day' });
    expect((await store.reserve(record, 300_000)).granted).toBe(true);
    await store.settle(300_000, call(record.id, 300_000, now));
    expect((await store.reserve(record, 300_000)).granted).toBe(false);
    now += 2 * HOUR; // 1 February, 01:00 UTC
    expect((await store.byId(record.id))?.spentMicros).toBe(0);
    expect((await store.reserve(record, 300_000)).granted).toBe(true);
    expect((await store.reserve(record, 300_000)).granted).toBe(false);
    expect(await store.byId(record.id)).toMatchObject({
      spentMicros: 0,
      reservedMicros: 300_000,
      periodStart: Date.UTC(2026, 1, 1),
    });
  });

  it('refuses a revoked key a reservation', async (context) => {
    if (!available) return context.skip();
    const { record } = await store.create({ name: 'gone' });
    await store.revoke(record.id);
    expect((await store.reserve(record, 1)).granted).toBe(false);
  });

  it('reads the ledger back by key and time', async (context) => {
    if (!available) return context.skip();
    const { record } = await store.create({ name: 'ledger' });
    await store.settle(0, call(record.id, 1, 1000));
    await store.settle(0, { ...call(record.id, 2, 2000), streamId: 'str_1', ttftMs: undefined });
    const rows = await store.calls({ keyId: record.id, from: 1500 });
    expect(rows).toEqual([{ ...call(record.id, 2, 2000), streamId: 'str_1', ttftMs: undefined }]);
    expect(await store.calls({ keyId: record.id, to: 1500 })).toHaveLength(1);
  });

  it('migrates once: a second run applies nothing', async (context) => {
    if (!available) return context.skip();
    expect(await migrate(store.db)).toEqual([]);
  });
});

describe('opening one PostgreSQL schema from several processes at once', () => {
  it('creates it once and lets every opener in (two gateways starting together)', async (context) => {
    if (!(await postgresForTests())) return context.skip();
    for (let round = 0; round < 5; round++) {
      const database = postgresForTest();
      try {
        const opened = await Promise.all(Array.from({ length: 8 }, () => database.open()));
        await Promise.all(opened.map((db) => db.close()));
      } finally {
        await database.drop();
      }
    }
  });
});

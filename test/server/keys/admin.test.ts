import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../../src/providers/simulated/provider.ts';
import { createServer } from '../../../src/server/app.ts';
import { KeyStore } from '../../../src/server/keys/key-store.ts';
import { sqliteForTest, type TestDatabase } from './databases.ts';

const ADMIN = 'sk-admin-for-the-test';
let database: TestDatabase;
let store: KeyStore;
let gateway: FastifyInstance;
let url: string;

beforeAll(async () => {
  database = sqliteForTest();
  store = new KeyStore(await database.open());
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
    }),
    keyStore: store,
    prices: { 'sim:default': { input: 1, output: 2 }, 'sim:other': { input: 10, output: 20 } },
    adminKey: ADMIN,
  });
  url = await gateway.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await gateway.close();
  await store.close();
  await database.drop();
});

const admin = (path: string, init: RequestInit = {}, key = ADMIN) =>
  fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });

const ask = (key: string, model: string) =>
  fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }),
  });

describe('the admin API', () => {
  it('takes only the admin key: neither none nor a caller key opens it', async () => {
    const { key } = await store.create({ name: 'caller' });
    expect((await fetch(`${url}/admin/keys`)).status).toBe(401);
    const withCallerKey = await admin('/admin/keys', {}, key);
    expect(withCallerKey.status).toBe(401);
    expect((await withCallerKey.json()).error.message).toContain(
      'The admin API takes the admin key (SLUICE_ADMIN_KEY).',
    );
  });

  it('creates a key shown once, lists it without its secret, and revokes it', async () => {
    const created = await admin('/admin/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'web', budget_usd: 5, period: 'day', rpm: 30, models: ['sim:default'] }),
    });
    expect(created.status).toBe(201);
    const body = await created.json();
    expect(body).toMatchObject({
      name: 'web',
      budget_usd: 5,
      period: 'day',
      rpm: 30,
      models: ['sim:default'],
      spent_usd: 0,
    });
    expect(body.key).toMatch(/^sk-sluice-/);
    expect((await ask(body.key, 'sim:default')).status).toBe(200);
    const listed = await (await admin('/admin/keys')).json();
    expect(JSON.stringify(listed)).not.toContain(body.key);
    expect(listed.data.find((key: { id: string }) => key.id === body.id)).toMatchObject({
      name: 'web',
      revoked_at: null,
    });
    expect(await (await admin(`/admin/keys/${body.id}`, { method: 'DELETE' })).json()).toEqual({
      id: body.id,
      revoked: true,
    });
    expect((await ask(body.key, 'sim:default')).status).toBe(401);
    const again = await admin(`/admin/keys/${body.id}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
  });

  it('refuses a malformed key with the field named', async () => {
    const response = await admin('/admin/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'x', period: 'week' }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toContain('period');
  });

  it('sums the ledger per model, key or day, for a key and a time range', async () => {
    const { key } = await store.create({ name: 'reporting' });
    await ask(key, 'sim:default');
    await ask(key, 'sim:other');
    await ask(key, 'sim:other');
    const byModel = await (await admin('/admin/usage?key=reporting&group_by=model')).json();
    expect(byModel.data).toEqual([
      expect.objectContaining({ group: 'sim:default', calls: 1, output_tokens: 8 }),
      expect.objectContaining({ group: 'sim:other', calls: 2, output_tokens: 16 }),
    ]);
    const [cheap, dear] = byModel.data;
    expect(cheap.cost_usd).toBe((cheap.input_tokens * 1 + cheap.output_tokens * 2) / 1e6);
    expect(dear.cost_usd).toBe((dear.input_tokens * 10 + dear.output_tokens * 20) / 1e6);
    const byKey = await (await admin('/admin/usage?group_by=key&from=1h')).json();
    expect(byKey.data.map((row: { group: string }) => row.group)).toEqual(
      expect.arrayContaining(['reporting', 'web']),
    );
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await (await admin(`/admin/usage?key=reporting&group_by=day&from=${today}`)).json();
    expect(byDay.data).toEqual([expect.objectContaining({ group: today, calls: 3 })]);
    expect((await admin('/admin/usage?from=2999-01-01')).status).toBe(200);
    expect((await admin('/admin/usage?group_by=week')).status).toBe(400);
    expect((await admin('/admin/usage?key=nobody')).status).toBe(404);
  });
});

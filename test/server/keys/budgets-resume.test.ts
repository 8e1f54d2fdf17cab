import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageCreateParams } from '../../../src/protocol/request.ts';
import { ProviderRegistry } from '../../../src/providers/registry.ts';
import type { Provider } from '../../../src/providers/types.ts';
import { createServer } from '../../../src/server/app.ts';
import { KeyStore } from '../../../src/server/keys/key-store.ts';
import { worstCaseMicros } from '../../../src/server/keys/worst-case.ts';
import { anthropicAt, script, useSimulator } from '../../helpers/simulator.ts';
import { sqliteForTest, type TestDatabase } from './databases.ts';

// The Anthropic provider in front of `sluice simulate`, whose answers break off mid-stream and are resumed.
const PRICE = { input: 3, output: 7 };
const REQUEST = { max_tokens: 40, messages: [{ role: 'user' as const, content: 'Tell me about the sea.' }] };
// The most the first attempt can cost: what a call must find free in its key's budget.
const FIRST_ATTEMPT = worstCaseMicros(
  { ...REQUEST, model: 'default' } as MessageCreateParams,
  'anthropic',
  PRICE,
);
const DROP = { dropAfterBytes: 900 };
const sim = useSimulator();

let database: TestDatabase;
let store: KeyStore;
let gateway: FastifyInstance;
let url: string;
const calls: Record<string, number> = {};

/** An upstream whose n-th request gets the n-th fault of `faults`, counting the requests that reach it. */
function upstream(name: string, ...faults: object[]): Provider {
  const provider = anthropicAt(sim.url, script(...faults));
  calls[name] = 0;
  return {
    ...provider,
    stream: (request, options) => {
      calls[name]!++;
      return provider.stream(request, options);
    },
  };
}

beforeAll(async () => {
  database = sqliteForTest();
  store = new KeyStore(await database.open());
  const providers = {
    once: upstream('once', DROP, {}),
    again: upstream('again', DROP, {}),
    many: upstream('many', ...Array.from({ length: 50 }, () => DROP), {}),
  };
  gateway = createServer({
    registry: new ProviderRegistry({ env: {}, providers }),
    keyStore: store,
    prices: { 'once:default': PRICE, 'again:default': PRICE, 'many:default': PRICE },
    policy: { initialDelayMs: 1, maxDelayMs: 2 },
  });
  url = await gateway.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await store?.close();
  await database?.drop();
});

async function stream(key: string, model: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ ...REQUEST, model, stream: true }),
  });
  return { status: response.status, text: await response.text() };
}

const pricedExactly = (row: { inputTokens: number; outputTokens: number }) =>
  row.inputTokens * PRICE.input + row.outputTokens * PRICE.output;

describe('resumes under a budget', () => {
  it('reserves a resume before it is sent and settles the call to the usage of both attempts', async () => {
    const { key, record } = await store.create({ name: 'room-to-resume', budgetUsd: 1 });
    const answer = await stream(key, 'once:default');
    expect(answer.text).toContain('event: message_stop');
    const [row] = await store.calls({ keyId: record.id });
    expect(row).toMatchObject({ status: 200, attempts: 2, resumes: 1, outputTokens: 40 });
    expect(row!.costMicros).toBe(pricedExactly(row!));
    expect(calls.once).toBe(2);
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: row!.costMicros, reservedMicros: 0 });
  });

  it('ends a call whose resume does not fit with an error event, before the resume is sent', async () => {
    // Room for the first attempt only: its own reservation is held while it streams.
    const { key, record } = await store.create({
      name: 'no-room',
      budgetUsd: FIRST_ATTEMPT / 1e6,
      period: 'total',
    });
    const answer = await stream(key, 'again:default');
    expect(answer.status).toBe(200);
    expect(answer.text).toMatch(
      /event: error\ndata: \{"type":"error","error":\{"type":"permission_error","message":"This call may cost up to \$0\.\d{6}, more than is left of the key's total budget/,
    );
    expect(answer.text).not.toContain('message_stop');
    expect(calls.again).toBe(1);
    const [row] = await store.calls({ keyId: record.id });
    expect(row).toMatchObject({ status: 403, attempts: 1, resumes: 0 });
    expect(row!.outputTokens).toBeGreaterThan(0);
    expect(row!.costMicros).toBe(pricedExactly(row!));
    expect(row!.costMicros).toBeLessThanOrEqual(FIRST_ATTEMPT);
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: row!.costMicros, reservedMicros: 0 });
  });

  it('never spends more than the budget over 50 concurrent calls that break off and resume', async () => {
    const budget = 12 * FIRST_ATTEMPT;
    const { key, record } = await store.create({ name: 'many', budgetUsd: budget / 1e6, period: 'total' });
    await Promise.all(Array.from({ length: 50 }, () => stream(key, 'many:default')));
    const rows = (await store.calls({ keyId: record.id })).filter((row) => row.attempts > 0);
    for (const row of rows) expect(row.costMicros).toBe(pricedExactly(row));
    // Every attempt the ledger counts reached the model, and no other did.
    expect(calls.many).toBe(rows.reduce((sum, row) => sum + row.attempts, 0));
    const spent = rows.reduce((sum, row) => sum + row.costMicros, 0);
    expect(spent).toBeLessThanOrEqual(budget);
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: spent, reservedMicros: 0 });
  });
});

describe('fallbacks under a budget', () => {
  const PRICEY = { input: 30, output: 70 };
  let fallbackGateway: FastifyInstance;
  let fallbackUrl: string;

  beforeAll(async () => {
    // Every request to `down` is answered 529 (a script of them, one per request).
    const providers = {
      down: upstream('down', ...Array.from({ length: 10 }, () => ({ status: 529 }))),
      pricey: upstream('pricey', {}),
    };
    fallbackGateway = createServer({
      registry: new ProviderRegistry({ env: {}, providers }),
      keyStore: store,
      prices: { 'down:default': PRICE, 'pricey:default': PRICEY },
      fallbacks: { 'down:default': ['pricey:default'] },
      policy: { maxRetries: 0 },
    });
    fallbackUrl = await fallbackGateway.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await fallbackGateway?.close();
  });

  const ask = (key: string) =>
    fetch(`${fallbackUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ ...REQUEST, model: 'down:default' }),
    });

  it('reserves the fallback at its own price before trying it, and refuses it when it does not fit', async () => {
    const { key, record } = await store.create({
      name: 'no-fallback',
      budgetUsd: FIRST_ATTEMPT / 1e6,
      period: 'total',
    });
    const before = { down: calls.down!, pricey: calls.pricey! };
    const refused = await ask(key);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toMatch(
      /^This call may cost up to \$0\.\d{6}, more than is left/,
    );
    expect(calls.down! - before.down).toBe(1);
    expect(calls.pricey).toBe(before.pricey);
    const [row] = await store.calls({ keyId: record.id });
    expect(row).toMatchObject({ status: 403, attempts: 1, fallbacks: 0, costMicros: 0 });
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: 0, reservedMicros: 0 });
  });

  it('settles a call that fell back at the price of the model that answered', async () => {
    const { key, record } = await store.create({ name: 'fallback', budgetUsd: 1 });
    expect((await ask(key)).status).toBe(200);
    const [row] = await store.calls({ keyId: record.id });
    expect(row).toMatchObject({
      status: 200,
      attempts: 2,
      fallbacks: 1,
      modelRequested: 'down:default',
      modelUsed: 'pricey:default',
    });
    expect(row!.costMicros).toBe(row!.inputTokens * PRICEY.input + row!.outputTokens * PRICEY.output);
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: row!.costMicros, reservedMicros: 0 });
  });
});

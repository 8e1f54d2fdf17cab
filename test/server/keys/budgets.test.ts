import Anthropic from '@anthropic-ai/sdk';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageCreateParams } from '../../../src/protocol/request.ts';
import { ProviderRegistry } from '../../../src/providers/registry.ts';
import { createSimulatedProvider } from '../../../src/providers/simulated/provider.ts';
import { countRequestTokens } from '../../../src/providers/simulated/request-tokens.ts';
import type { Provider } from '../../../src/providers/types.ts';
import { createServer } from '../../../src/server/app.ts';
import { KeyStore } from '../../../src/server/keys/key-store.ts';
import { BodyReader } from '../../helpers/sse-reader.ts';
import { BACKENDS, type TestDatabase } from './databases.ts';

// The simulated model, priced in the test's configuration: per token, 3 micro-dollars in, 7 out.
const PRICE = { input: 3, output: 7 };
const PRICES = { 'sim:default': PRICE, 'sim:unpriced-but-aliased': PRICE };
const ADMIN = 'sk-admin-test-key';
const PLAIN = 'sk-plain-configured-key';

const REQUEST: MessageCreateParams = {
  model: 'sim:default',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Tell me about the sea.' }],
};
// The simulator answers its long prose up to max_tokens: a call costs exactly its worst case.
const CALL_MICROS = countRequestTokens(REQUEST) * PRICE.input + REQUEST.max_tokens * PRICE.output;

/** A real provider that counts the calls that reach it: "refused before any upstream call" is checked here. */
function counted(provider: Provider): { provider: Provider; calls: () => number } {
  let calls = 0;
  return {
    provider: {
      ...provider,
      stream: (request, options) => {
        calls++;
        return provider.stream(request, options);
      },
    },
    calls: () => calls,
  };
}

describe.each(BACKENDS)('budgets on $name', (backend) => {
  let available = false;
  let database: TestDatabase;
  let store: KeyStore;
  let gateway: FastifyInstance;
  let url: string;
  let upstream: ReturnType<typeof counted>;
  let now = Date.UTC(2026, 5, 30, 23, 0);

  beforeAll(async () => {
    available = await backend.available();
    if (!available) return;
    database = backend.make();
    store = new KeyStore(await database.open(), () => now);
    // Paced, so that a client can leave mid-answer; max_tokens keeps each answer short.
    upstream = counted(createSimulatedProvider({ pacing: { ttftMs: 5, tokensPerSecond: 400 } }));
    gateway = createServer({
      registry: new ProviderRegistry({ env: {}, providers: { sim: upstream.provider } }),
      apiKeys: [PLAIN],
      keyStore: store,
      prices: PRICES,
      adminKey: ADMIN,
      aliases: { cheap: 'sim:default' },
      streams: { onDisconnect: 'abort', detachGraceMs: 0 },
    });
    url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    if (!available) return;
    await gateway.close();
    await store.close();
    await database.drop();
  });

  const post = (key: string, body: unknown, path = '/v1/messages') =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(body),
    });

  async function ledgerOf(keyId: string) {
    return store.calls({ keyId });
  }

  function expectPricedExactly(rows: Awaited<ReturnType<typeof ledgerOf>>) {
    for (const row of rows) {
      expect(row.costMicros).toBe(row.inputTokens * PRICE.input + row.outputTokens * PRICE.output);
    }
  }

  it('lets 10 of 50 concurrent streams through a budget that fits 10, refusing the rest before any upstream call', async (context) => {
    if (!available) return context.skip();
    const { key, record } = await store.create({
      name: 'fits-ten',
      budgetUsd: (10 * CALL_MICROS) / 1e6,
      period: 'total',
    });
    const before = upstream.calls();
    const responses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await post(key, { ...REQUEST, stream: true });
        return { status: response.status, body: await response.text() };
      }),
    );
    const served = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 403);
    expect(served).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const response of served) expect(response.body).toContain('event: message_stop');
    const error = JSON.parse(refused[0]!.body);
    expect(error.error.type).toBe('permission_error');
    expect(error.error.message).toMatch(
      /total budget of \$0\.\d{6} \(\$0\.\d{6} spent or held by calls in flight\)\. It does not reset/,
    );
    expect(upstream.calls() - before).toBe(10);
    const rows = (await ledgerOf(record.id)).filter((row) => row.status === 200);
    expect(rows).toHaveLength(10);
    expectPricedExactly(rows);
    const spent = rows.reduce((sum, row) => sum + row.costMicros, 0);
    expect(spent).toBe(10 * CALL_MICROS);
    expect(await store.byId(record.id)).toMatchObject({ spentMicros: spent, reservedMicros: 0 });
  });

  it('settles calls whose clients leave mid-stream to what they used, never over the budget', async (context) => {
    if (!available) return context.skip();
    const { key, record } = await store.create({
      name: 'aborts',
      budgetUsd: (10 * CALL_MICROS) / 1e6,
      period: 'total',
    });
    const before = upstream.calls();
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async (_, index) => {
        const controller = new AbortController();
        const response = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ ...REQUEST, stream: true }),
          signal: controller.signal,
        });
        if (response.status !== 200) return response.status;
        const reader = new BodyReader(response);
        // Every other client leaves after its first text.
        if (index % 2 === 0) {
          await reader.until((text) => text.includes('text_delta'));
          controller.abort();
          return 499;
        }
        await reader.all();
        return 200;
      }),
    );
    const admitted = statuses.filter((status) => status !== 403).length;
    expect(admitted).toBeGreaterThanOrEqual(10);
    expect(upstream.calls() - before).toBe(admitted);
    // The aborted calls settle once the gateway sees the client gone.
    await vi.waitFor(async () => expect((await store.byId(record.id))?.reservedMicros).toBe(0), {
      timeout: 10_000,
    });
    const rows = (await ledgerOf(record.id)).filter((row) => row.status !== 403);
    expect(rows).toHaveLength(admitted);
    expectPricedExactly(rows);
    const spent = rows.reduce((sum, row) => sum + row.costMicros, 0);
    expect(spent).toBeLessThanOrEqual(10 * CALL_MICROS);
    expect((await store.byId(record.id))?.spentMicros).toBe(spent);
  });

  it("settles a detached stream when its generation ends, on the ledger row with the stream's id", async (context) => {
    if (!available) return context.skip();
    // The default: a client that leaves detaches, and the answer runs on for a later resume.
    const detaching = createServer({
      registry: new ProviderRegistry({ env: {}, providers: { sim: upstream.provider } }),
      keyStore: store,
      prices: PRICES,
    });
    const detachingUrl = await detaching.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { key, record } = await store.create({ name: 'detached', budgetUsd: 1, period: 'total' });
      const controller = new AbortController();
      const response = await fetch(`${detachingUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ ...REQUEST, stream: true }),
        signal: controller.signal,
      });
      const streamId = response.headers.get('sluice-stream-id');
      await new BodyReader(response).until((text) => text.includes('text_delta'));
      controller.abort();
      await vi.waitFor(async () => expect(await ledgerOf(record.id)).toHaveLength(1), { timeout: 10_000 });
      const [row] = await ledgerOf(record.id);
      // The generation ran on to its end after the client left: the whole answer is paid for.
      expect(row).toMatchObject({
        status: 200,
        outputTokens: REQUEST.max_tokens,
        streamId,
        costMicros: CALL_MICROS,
      });
      expect(await store.byId(record.id)).toMatchObject({ spentMicros: CALL_MICROS, reservedMicros: 0 });
    } finally {
      await detaching.close();
    }
  });

  it('starts a daily budget again at midnight UTC', async (context) => {
    if (!available) return context.skip();
    now = Date.UTC(2026, 5, 30, 23, 0);
    const { key } = await store.create({ name: 'daily', budgetUsd: CALL_MICROS / 1e6, period: 'day' });
    expect((await post(key, REQUEST)).status).toBe(200);
    const refused = await post(key, REQUEST);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toContain('It resets at 2026-07-01T00:00:00.000Z.');
    now = Date.UTC(2026, 6, 1, 0, 1);
    expect((await post(key, REQUEST)).status).toBe(200);
  });

  it('refuses a model the key may not use, naming the ones it may, and a model without a price', async (context) => {
    if (!available) return context.skip();
    const { key } = await store.create({ name: 'scoped', budgetUsd: 1, models: ['cheap'] });
    expect((await post(key, { ...REQUEST, model: 'cheap' })).status).toBe(200);
    const other = await post(key, { ...REQUEST, model: 'sim:other' });
    expect(other.status).toBe(403);
    expect((await other.json()).error.message).toBe(
      'This key may not use the model sim:other; it may use: cheap.',
    );
    const { key: budgeted } = await store.create({ name: 'budgeted', budgetUsd: 1 });
    const unpriced = await post(budgeted, { ...REQUEST, model: 'anthropic:claude-unknown' });
    expect(unpriced.status).toBe(403);
    expect((await unpriced.json()).error.message).toMatch(/anthropic:claude-unknown has no price/);
  });

  it('answers the official SDKs with a 403 they do not retry: permission_error, and code budget_exceeded on the OpenAI route', async (context) => {
    if (!available) return context.skip();
    const { key } = await store.create({ name: 'empty', budgetUsd: 0.000001, period: 'month' });
    const anthropic = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 2 });
    const failure = await anthropic.messages
      .create({
        model: 'sim:default',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'Tell me about the sea.' }],
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((failure as Error).message).toMatch(
      /monthly budget of \$0\.000001 .*resets at 2026-0[78]-01T00:00:00\.000Z/,
    );
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 2 });
    const refused = await openai.chat.completions
      .create({ model: 'sim:default', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((refused as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('budget_exceeded');
  });

  it('keeps SLUICE_API_KEYS working beside the store, without a budget, and refuses unknown keys', async (context) => {
    if (!available) return context.skip();
    expect((await post(PLAIN, REQUEST)).status).toBe(200);
    expect((await post('sk-sluice-not-a-key', REQUEST)).status).toBe(401);
    expect((await fetch(`${url}/v1/messages`, { method: 'POST' })).status).toBe(401);
  });

  it('refuses a revoked key at once', async (context) => {
    if (!available) return context.skip();
    const { key, record } = await store.create({ name: 'short-lived' });
    expect((await post(key, REQUEST)).status).toBe(200);
    await store.revoke(record.id);
    expect((await post(key, REQUEST)).status).toBe(401);
  });

  it('tells a key its own budget and spend on GET /v1/usage', async (context) => {
    if (!available) return context.skip();
    now = Date.UTC(2026, 6, 2, 12);
    const { key, record } = await store.create({ name: 'self', budgetUsd: 2, period: 'day' });
    await post(key, REQUEST);
    const usage = await (await fetch(`${url}/v1/usage`, { headers: { 'x-api-key': key } })).json();
    expect(usage.key).toMatchObject({
      id: record.id,
      name: 'self',
      budget_usd: 2,
      spent_usd: CALL_MICROS / 1e6,
      reserved_usd: 0,
      resets_at: '2026-07-03T00:00:00.000Z',
    });
    expect(usage.usage).toEqual([
      expect.objectContaining({
        group: 'sim:default',
        calls: 1,
        output_tokens: 16,
        cost_usd: CALL_MICROS / 1e6,
      }),
    ]);
    expect((await fetch(`${url}/v1/usage`, { headers: { 'x-api-key': PLAIN } })).status).toBe(404);
  });
});

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server/app.ts';

/** `GET /v1/models` prices come from the gateway's price table: the configuration's over the list prices. */
describe('model prices in GET /v1/models', () => {
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    app = createServer({
      aliases: { house: 'sim:default' },
      prices: { 'sim:default': { input: 1.5, output: 6 }, house: { input: 2, output: 8, cacheRead: 0.2 } },
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });

  const pricing = async (id: string) =>
    ((await (await fetch(`${url}/v1/models/${id}`)).json()) as { pricing: unknown }).pricing;

  it('gives the configured price of a model, cache rates defaulting to the input rate', async () => {
    expect(await pricing('sim:default')).toEqual({
      input: 1.5,
      output: 6,
      cache_read: 1.5,
      cache_write: 1.5,
    });
  });

  it('prices a model first, and an alias only for a model with no price of its own', async () => {
    // The alias resolves to sim:default, which has a price: that one is what a call is charged.
    expect(await pricing('house')).toEqual({ input: 1.5, output: 6, cache_read: 1.5, cache_write: 1.5 });
    // Untouched list prices still apply to the rest.
    expect(await pricing('anthropic:claude-sonnet-4-5')).toMatchObject({ input: 3, output: 15 });
    const { data } = (await (await fetch(`${url}/v1/models`)).json()) as {
      data: { id: string; pricing: unknown }[];
    };
    expect(data.find((entry) => entry.id === 'house')?.pricing).toMatchObject({ input: 1.5 });
  });
});

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { useSimulator } from '../helpers/simulator.ts';

// One name for the model in every answer the gateway makes itself: the one the client asked
// for, on both APIs, streamed or not; an upstream's answer keeps the upstream's own name.
const upstream = useSimulator();
let gateway: FastifyInstance;
let url: string;

beforeAll(async () => {
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: {
        sim: createSimulatedProvider({ pacing: NO_PACING }),
        remote: createAnthropicProvider({ apiKey: 'sk-upstream', baseURL: upstream.url }),
      },
    }),
    aliases: { fast: 'sim:default' },
  });
  url = await gateway.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

async function post(path: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }], ...body }),
  });
  expect(response.status).toBe(200);
  return response.text();
}

/** The `model` of a response: the JSON body's, or the first one a stream's events name. */
function modelOf(text: string): unknown {
  if (text.startsWith('{')) return (JSON.parse(text) as { model: unknown }).model;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const data = JSON.parse(line.slice(6)) as { model?: unknown; message?: { model?: unknown } };
    const model = data.message?.model ?? data.model;
    if (model !== undefined) return model;
  }
  return undefined;
}

describe('the model name in the gateway’s answers', () => {
  for (const asked of ['sim:default', 'fast']) {
    it(`is '${asked}', as asked, from /v1/messages and /v1/chat/completions, streamed or not`, async () => {
      for (const stream of [false, true]) {
        expect(
          modelOf(await post('/v1/messages', { model: asked, stream })),
          `messages, stream ${stream}`,
        ).toBe(asked);
        expect(
          modelOf(await post('/v1/chat/completions', { model: asked, stream })),
          `chat, stream ${stream}`,
        ).toBe(asked);
      }
    });
  }

  it('is the upstream’s own for an upstream’s answer, relayed unchanged', async () => {
    expect(modelOf(await post('/v1/messages', { model: 'remote:default' }))).toBe('default');
  });
});

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { RateLimitError } from '../../src/protocol/errors.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { RateLimiter } from '../../src/server/rate-limit.ts';
import { useSimulator } from '../helpers/simulator.ts';

const sim = useSimulator();
const request = { model: 'primary', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] };

function registry(faultyHeaders: Record<string, string> = {}) {
  return new ProviderRegistry({
    env: {},
    providers: {
      sim: createSimulatedProvider({ pacing: NO_PACING }),
      // Nothing listens on port 9 here: the connection is refused at once.
      down: createAnthropicProvider({ apiKey: 'sk', baseURL: 'http://127.0.0.1:9' }),
      faulty: createAnthropicProvider({ apiKey: 'sk', baseURL: sim.url, headers: faultyHeaders }),
    },
  });
}

async function withGateway<T>(
  options: Parameters<typeof createServer>[0],
  run: (url: string) => Promise<T>,
): Promise<T> {
  const gateway = createServer(options);
  const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  try {
    return await run(url);
  } finally {
    await gateway.close();
  }
}

describe('fallbacks', () => {
  it('a model that fails before its first byte hands over to the next one', async () => {
    await withGateway(
      {
        registry: registry(),
        aliases: { primary: 'down:default' },
        fallbacks: { primary: ['sim:default'] },
        policy: { maxRetries: 0 },
      },
      async (url) => {
        const message = await new Anthropic({ baseURL: url, apiKey: 'x', maxRetries: 0 }).messages.create(
          request,
        );
        expect(message.content[0]).toMatchObject({
          type: 'text',
          text: expect.stringContaining('simulated'),
        });
      },
    );
  });

  it('a model that fails after its first byte does not: another model would not continue the text', async () => {
    await withGateway(
      {
        registry: registry({ 'x-sluice-fault': JSON.stringify({ errorAfterDeltas: 3 }) }),
        aliases: { primary: 'faulty:default' },
        fallbacks: { primary: ['sim:default'] },
        policy: { maxRetries: 0 },
      },
      async (url) => {
        const stream = new Anthropic({ baseURL: url, apiKey: 'x', maxRetries: 0 }).messages.stream({
          ...request,
          stream: true,
        } as never);
        await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
      },
    );
  });

  it('a malformed request is not retried on the fallbacks', async () => {
    await withGateway(
      {
        registry: registry(),
        aliases: { primary: 'faulty:default' },
        fallbacks: { primary: ['sim:default'] },
      },
      async (url) => {
        const response = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-sluice-fault': '' },
          body: JSON.stringify({ ...request, max_tokens: -1 }),
        });
        expect(response.status).toBe(400);
      },
    );
  });
});

describe('an upstream error after the first byte', () => {
  it('reaches the openai SDK as its APIError, after the text streamed so far', async () => {
    await withGateway(
      {
        registry: registry({ 'x-sluice-fault': JSON.stringify({ errorAfterDeltas: 3 }) }),
        policy: { maxRetries: 0 },
      },
      async (url) => {
        const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
        const stream = await client.chat.completions.create({
          model: 'faulty:default',
          max_tokens: 100,
          stream: true,
          messages: [{ role: 'user', content: 'Hi' }],
        });
        let text = '';
        const failure = await (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        })().catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(OpenAI.APIError);
        expect((failure as Error).message).toMatch(/Overloaded/);
        expect(text).not.toBe('');
      },
    );
  });
});

describe('rate limit', () => {
  it('refuses the request over the limit with 429 and retry-after', async () => {
    await withGateway(
      { registry: registry(), apiKeys: ['k1', 'k2'], rateLimit: { requestsPerMinute: 2 } },
      async (url) => {
        const call = (key: string) =>
          fetch(`${url}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': key },
            body: JSON.stringify({ ...request, model: 'sim:default' }),
          });
        expect((await call('k1')).status).toBe(200);
        expect((await call('k1')).status).toBe(200);
        const refused = await call('k1');
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
        // Another key has its own budget.
        expect((await call('k2')).status).toBe(200);
      },
    );
  });

  it('a token bucket: bursts up to the limit, then one token per interval', () => {
    let now = 0;
    const limiter = new RateLimiter(60, { burst: 2, now: () => now });
    limiter.take('a');
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(RateLimitError);
    now += 1000;
    expect(() => limiter.take('a')).not.toThrow();
    const error = (() => {
      try {
        limiter.take('a');
      } catch (e) {
        return e as RateLimitError;
      }
    })();
    expect(error?.retryAfterMs).toBe(1000);
    expect(new RateLimiter(0).enabled).toBe(false);
  });
});

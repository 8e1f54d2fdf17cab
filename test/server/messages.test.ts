import Anthropic from '@anthropic-ai/sdk';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { script, useSimulator } from '../helpers/simulator.ts';

const sim = useSimulator();
const KEY = 'sk-gateway-test-key';

let gateway: FastifyInstance;
let url: string;
const upstreamHeaders: Record<string, string> = {};

beforeAll(async () => {
  const registry = new ProviderRegistry({
    env: {},
    providers: {
      sim: createSimulatedProvider({ pacing: NO_PACING }),
      // The Anthropic provider in front of `sluice simulate`, with faults set per test.
      upstream: createAnthropicProvider({
        apiKey: 'sk-upstream',
        baseURL: sim.url,
        headers: upstreamHeaders,
      }),
    },
  });
  gateway = createServer({
    registry,
    apiKeys: [KEY],
    aliases: { fast: 'sim:default', flaky: 'upstream:default' },
    // A short idle limit so that a stalled upstream is cut and resumed quickly.
    policy: { initialDelayMs: 1, maxDelayMs: 2, idleTimeoutMs: 200 },
    bodyLimitBytes: 64 * 1024,
  });
  url = await gateway.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

const sdk = (options: { apiKey?: string; authToken?: string } = { authToken: KEY }) =>
  new Anthropic({
    baseURL: url,
    maxRetries: 0,
    apiKey: options.apiKey ?? null,
    authToken: options.authToken ?? null,
  });

describe('GET /v1/models', () => {
  it('lists the aliases and the default model to the Anthropic SDK, which pages through it', async () => {
    const listed = [];
    for await (const model of sdk().models.list()) listed.push(model);
    expect(listed.map((model) => model.id)).toEqual(['fast', 'flaky', 'sim:default']);
    expect(listed[1]).toMatchObject({ type: 'model', id: 'flaky', display_name: 'flaky' });
    expect(Date.parse(listed[1]!.created_at)).toBeLessThanOrEqual(Date.now());
  });

  it('retrieves a model a request could name, listed or not, and says which exist for one it could not', async () => {
    expect(await sdk().models.retrieve('fast')).toMatchObject({ type: 'model', id: 'fast' });
    expect(await sdk().models.retrieve('sim:a/b')).toMatchObject({ id: 'sim:a/b' });
    const unknown = await sdk()
      .models.retrieve('gpt-9')
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as Error).message).toMatch(/Unknown model 'gpt-9'.*fast, flaky/);
  });

  it('needs a key like every model route', async () => {
    for (const path of ['/v1/models', '/v1/models/fast']) {
      expect((await fetch(`${url}${path}`)).status).toBe(401);
    }
  });
});

describe('POST /v1/messages with the official @anthropic-ai/sdk', () => {
  it('non-streaming, with Authorization: Bearer as the SDK sends it', async () => {
    const message = await sdk().messages.create({
      model: 'sim:default',
      max_tokens: 100,
      messages: [{ role: 'user', content: "I'm Jeremy" }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Jeremy') });
    expect(message.stop_reason).toBe('end_turn');
  });

  it('streaming through an alias, with x-api-key, ids and a stream id', async () => {
    const stream = sdk({ apiKey: KEY }).messages.stream({
      model: 'fast',
      max_tokens: 60,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const message = await stream.finalMessage();
    expect(text).toBe((message.content[0] as { text: string }).text);
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({
        model: 'fast',
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    });
    expect(response.headers.get('sluice-stream-id')).toMatch(/^str_/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const body = await response.text();
    expect(body.match(/^id: (\d+)$/gm)?.map((line) => Number(line.slice(4)))).toEqual(
      Array.from({ length: body.match(/^id: /gm)!.length }, (_, i) => i + 1),
    );
  });

  it('tools: a forced call streams back as a tool_use block', async () => {
    const message = await sdk()
      .messages.stream({
        model: 'sim:default',
        max_tokens: 200,
        tools: [
          {
            name: 'sums',
            input_schema: {
              type: 'object',
              properties: { a: { type: 'integer' }, b: { type: 'integer' } },
              required: ['a', 'b'],
            },
          },
        ],
        tool_choice: { type: 'tool', name: 'sums' },
        messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
      })
      .finalMessage();
    expect(message.content.at(-1)).toMatchObject({
      type: 'tool_use',
      name: 'sums',
      input: { a: 604542, b: 6458932 },
    });
  });

  it('upstream faults are absorbed: the SDK gets the complete, exact answer', async () => {
    const request = {
      model: 'flaky',
      max_tokens: 400,
      messages: [{ role: 'user' as const, content: 'Write a long essay on tides, in detail.' }],
    };
    const expected = await sdk().messages.create(request);
    for (const fault of [
      script({ dropAfterBytes: 3000 }, {}),
      script({ status: 429, retryAfterMs: 5 }, {}),
      script({ errorAfterDeltas: 20 }, {}),
      script({ chunkSize: 7, crlf: true }),
      script({ stallAfterDeltas: 10 }, {}),
    ]) {
      upstreamHeaders['x-sluice-fault'] = JSON.stringify(fault);
      try {
        let text = '';
        const stream = sdk().messages.stream(request);
        stream.on('text', (delta) => {
          text += delta;
        });
        const message = await stream.finalMessage();
        expect(message.content).toEqual(expected.content);
        expect(text).toBe((expected.content[0] as { text: string }).text);
      } finally {
        delete upstreamHeaders['x-sluice-fault'];
      }
    }
  });

  it('errors arrive as the SDK’s own classes, with the Anthropic body', async () => {
    await expect(
      sdk({ authToken: 'wrong' }).messages.create({
        model: 'fast',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    // The SDK will not send without a key, so a request without one is made by hand.
    const missing = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: expect.stringMatching(/x-api-key/) },
    });
    const notFound = await sdk()
      .messages.create({ model: 'gpt-9', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect((notFound as Error).message).toMatch(/fast, flaky/);
    const invalid = await sdk()
      .messages.create({ model: 'fast', max_tokens: 0, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect((invalid as Error).message).toMatch(/max_tokens/);
  });

  it('a body that is not a JSON object is a 400 that says to send one', async () => {
    const bodies = [
      { contentType: 'text/plain', body: 'Hi', kind: 'text' },
      { contentType: 'application/json', body: '[1]', kind: 'an array' },
      { contentType: undefined, body: undefined, kind: 'empty' },
    ];
    for (const { contentType, body, kind } of bodies) {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, ...(contentType ? { 'content-type': contentType } : {}) },
        body,
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: `The request body must be a JSON object, sent with content-type: application/json; this one is ${kind}.`,
        },
      });
    }
  });

  it('a body over the limit is a 413 request_too_large', async () => {
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({
        model: 'fast',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x'.repeat(100_000) }],
      }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'request_too_large', message: expect.any(String) },
    });
  });

  it('a retry budget spent on 429s is a 429 with retry-after, and no stack or key in the body', async () => {
    upstreamHeaders['x-sluice-fault'] = JSON.stringify({ status: 429, retryAfter: '3600' });
    try {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEY },
        body: JSON.stringify({
          model: 'flaky',
          max_tokens: 5,
          stream: true,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('3600');
      const text = await response.text();
      expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(text).not.toMatch(/sk-upstream|at .*\.ts:\d+/);
    } finally {
      delete upstreamHeaders['x-sluice-fault'];
    }
  });

  it.each([
    ['/v1/messages', { max_tokens: 2000 }],
    ['/v1/chat/completions', { max_completion_tokens: 2000 }],
  ])(
    'a client that disconnects mid-stream from %s makes the gateway abort its upstream call',
    async (path, limit) => {
      const slowSim = await (await import('../../src/server/simulator/simulator.ts')).Simulator.start({
        pacing: { ttftMs: 0, tokensPerSecond: 50 },
      });
      const pacedGateway = createServer({
        registry: new ProviderRegistry({
          env: {},
          providers: { upstream: createAnthropicProvider({ apiKey: 'sk', baseURL: slowSim.url }) },
        }),
        // Today's behaviour, kept by `streams.onDisconnect: "abort"` (the default detaches).
        streams: { detachGraceMs: 30_000, onDisconnect: 'abort' },
      });
      const pacedUrl = await pacedGateway.listen({ host: '127.0.0.1', port: 0 });
      try {
        const controller = new AbortController();
        const closed = new Promise<number>((resolve) =>
          slowSim.once('close', (record) => resolve(record.closedAt!)),
        );
        const response = await fetch(`${pacedUrl}${path}`, {
          method: 'POST',
          signal: controller.signal,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'upstream:default',
            ...limit,
            stream: true,
            messages: [{ role: 'user', content: 'Write a long essay on rivers, in detail.' }],
          }),
        });
        const reader = response.body!.getReader();
        await reader.read();
        const abortedAt = performance.now();
        controller.abort();
        const closedAt = await closed;
        expect(closedAt - abortedAt).toBeLessThan(100);
        expect(slowSim.requests.at(-1)?.completed).toBe(false);
      } finally {
        await pacedGateway.close();
        await slowSim.close();
      }
    },
  );
});

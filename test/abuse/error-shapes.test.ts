import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer, type GatewayOptions, type InternalErrorEntry } from '../../src/server/app.ts';
import { MAX_JSON_DEPTH } from '../../src/server/json-body.ts';
import { openRaw, postHead, rawExchange, responseOf } from '../helpers/raw-http.ts';

const KEY = 'sk-shapes-test-key';
const OPENAI = '/v1/chat/completions';
const ANTHROPIC = '/v1/messages';
const internalErrors: InternalErrorEntry[] = [];

const apps: FastifyInstance[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
});

async function gateway(options: GatewayOptions = {}): Promise<string> {
  const registry = new ProviderRegistry({
    env: {},
    providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
  });
  const app = createServer({
    registry,
    apiKeys: [KEY],
    bodyLimitBytes: 64 * 1024,
    timeouts: { bodyMs: 300 },
    routes: {
      classifier: { type: 'rules' },
      fallbackText: 'no route',
      routes: [{ name: 'crash', keywords: ['crash'] }],
    },
    handlers: {
      // biome-ignore lint/correctness/useYield: a handler that fails before its first chunk
      crash: async function* () {
        throw new Error('database password hunter2 at /srv/internal.ts');
      },
    },
    onInternalError: (entry) => internalErrors.push(entry),
    ...options,
  });
  apps.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

interface Shaped {
  status: number;
  type: string;
  message: string;
}

/** The error of an OpenAI-shaped body, failing unless the body has exactly that shape. */
function openAIError(status: number, text: string): Shaped {
  const body = JSON.parse(text) as {
    error: { message: string; type: string; param: unknown; code: unknown };
  };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual({
    message: expect.any(String),
    type: expect.any(String),
    param: null,
    code: null,
  });
  return { status, type: body.error.type, message: body.error.message };
}

/** The error of an Anthropic-shaped body, failing unless the body has exactly that shape. */
function anthropicError(status: number, text: string): Shaped {
  const body = JSON.parse(text) as { type: string; error: { type: string; message: string } };
  expect(body).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  return { status, type: body.error.type, message: body.error.message };
}

const shapeOf = (path: string) => (path === OPENAI ? openAIError : anthropicError);

let url: string;
beforeAll(async () => {
  url = await gateway();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...headers },
    body,
  });

describe.each([OPENAI, ANTHROPIC])('every error on %s comes in its API’s shape', (path) => {
  const shaped = shapeOf(path);
  const expectError = async (response: Response, status: number, type: string) => {
    expect(response.status).toBe(status);
    const error = shaped(response.status, await response.text());
    expect(error.type).toBe(type);
    return error;
  };

  it('malformed JSON: 400', async () => {
    await expectError(await post(path, '{"model": '), 400, 'invalid_request_error');
  });

  it('a body over the limit: 413', async () => {
    await expectError(
      await post(path, JSON.stringify({ pad: 'x'.repeat(70_000) })),
      413,
      'request_too_large',
    );
  });

  it('not JSON: 415', async () => {
    await expectError(
      await post(path, '<a/>', { 'content-type': 'application/xml' }),
      415,
      'invalid_request_error',
    );
  });

  it('no key: 401', async () => {
    const response = await fetch(`${url}${path}`, { method: 'POST', body: '{}' });
    await expectError(response, 401, 'authentication_error');
  });

  it('JSON nested 10,000 deep: 400, not a 500', async () => {
    const arrays = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const objects = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    // Deep inside a request that is otherwise right: without the depth limit, a 500 (stack overflow).
    const inRequest =
      path === OPENAI
        ? `{"model":"sim:default","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a","parameters":${objects}}}]}`
        : `{"model":"sim:default","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${objects}}`;
    for (const body of [arrays, objects, inRequest]) {
      const error = await expectError(await post(path, body), 400, 'invalid_request_error');
      expect(error.message).toMatch(new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));
    }
    // A string full of brackets is not nesting.
    const brackets = JSON.stringify({
      model: 'sim:default',
      max_tokens: 3,
      stream: false,
      messages: [{ role: 'user', content: '['.repeat(1000) }],
    });
    expect((await post(path, brackets)).status).toBe(200);
  });

  it('a body that stops arriving: 408', async () => {
    const socket = await openRaw(url);
    const answer = responseOf(socket);
    socket.write(`${postHead(path, 100, { 'x-api-key': KEY })}{"mod`);
    const result = await answer;
    expect(result.status).toBe(408);
    expect(shaped(result.status, result.body).type).toBe('timeout_error');
  });

  it("Node's parser errors: 400 for a malformed request, 431 for huge headers", async () => {
    const malformed = await rawExchange(
      url,
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: nope\r\n\r\n`,
    );
    expect(malformed.status).toBe(400);
    expect(shaped(malformed.status, malformed.body).type).toBe('invalid_request_error');
    const huge = await rawExchange(
      url,
      `POST ${path} HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    expect(shaped(huge.status, huge.body).message).toMatch(/headers are larger/);
  });

  it('a malformed URL: 400', async () => {
    const result = await rawExchange(
      url,
      `GET ${path}/%E0%A4%A HTTP/1.1\r\nhost: x\r\nx-api-key: ${KEY}\r\nconnection: close\r\n\r\n`,
    );
    expect(result.status).toBe(400);
    expect(shaped(result.status, result.body).type).toBe('invalid_request_error');
  });

  it('a method the route does not have: 404', async () => {
    await expectError(
      await fetch(`${url}${path}`, { headers: { 'x-api-key': KEY } }),
      404,
      'not_found_error',
    );
  });
});

describe('rate limits on the OpenAI route', () => {
  it('429 with retry-after, in OpenAI’s shape', async () => {
    const limited = await gateway({ rateLimit: { requestsPerMinute: 1 } });
    const ask = () =>
      fetch(`${limited}${OPENAI}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({
          model: 'sim:default',
          max_tokens: 3,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      });
    expect((await ask()).status).toBe(200);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(openAIError(429, await refused.text()).type).toBe('rate_limit_error');
  });
});

describe('elsewhere, the Anthropic shape', () => {
  it('an unknown path: 404', async () => {
    const response = await fetch(`${url}/v2/nothing`);
    expect(response.status).toBe(404);
    expect(anthropicError(404, await response.text()).message).toBe('No route GET /v2/nothing.');
  });

  it('a malformed request line', async () => {
    const result = await rawExchange(url, 'GARBAGE\r\n\r\n');
    expect(result.status).toBe(400);
    expect(anthropicError(400, result.body).type).toBe('invalid_request_error');
  });
});

describe('an internal error', () => {
  it('the client gets a request id, in the body and the request-id header; the log gets the cause', async () => {
    const response = await post('/streaming_chat', JSON.stringify({ request: 'crash please' }));
    expect(response.status).toBe(500);
    const requestId = response.headers.get('request-id');
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    const text = await response.text();
    const error = anthropicError(500, text);
    expect(error).toMatchObject({ type: 'api_error' });
    expect(error.message).toBe(
      `The gateway failed to handle the request (request id ${requestId}); its log has the cause.`,
    );
    expect(text).not.toMatch(/hunter2|internal\.ts|at /);
    const logged = internalErrors.find((entry) => entry.requestId === requestId);
    expect(logged).toMatchObject({ method: 'POST', url: '/streaming_chat' });
    expect(logged!.cause.message).toBe('database password hunter2 at /srv/internal.ts');
    expect(logged!.cause.stack).toMatch(/\n\s+at .*error-shapes\.test\.ts/);
  });

  it('every response carries its own request id', async () => {
    const first = await fetch(`${url}/healthz`);
    const second = await fetch(`${url}/healthz`);
    expect(first.headers.get('request-id')).toMatch(/^req_/);
    expect(second.headers.get('request-id')).not.toBe(first.headers.get('request-id'));
  });
});

import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { callerOf, registerApi } from '../../src/server/admission.ts';
import { createServer, gatewayContext } from '../../src/server/app.ts';
import { errorForCaller, sendError } from '../../src/server/errors.ts';

const KEY = 'sk-admission-test';

describe('the API plugin admits every route in it', () => {
  it('each model route refuses a request without the key, before anything else', async () => {
    const app = createServer({ registry: new ProviderRegistry({ env: {} }), apiKeys: [KEY] });
    const routes = [
      ['GET', '/v1/models'],
      ['GET', '/v1/models/sim:default'],
      ['POST', '/v1/messages'],
      ['POST', '/v1/chat/completions'],
      ['POST', '/streaming_chat'],
    ] as const;
    for (const [method, url] of routes) {
      const response = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      expect(response.statusCode, url).toBe(401);
    }
    // Outside the plugin: health needs no key.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close();
  });

  it('a route added in the plugin is admitted too, and learns the caller’s key label', async () => {
    const gateway = gatewayContext({ apiKeys: [KEY], rateLimit: { requestsPerMinute: 60, burst: 1 } });
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => sendError(reply, errorForCaller(error)));
    registerApi(app, gateway, (api) => {
      api.get('/new', async (request) => ({ caller: callerOf(request) }));
    });
    expect((await app.inject({ method: 'GET', url: '/new' })).statusCode).toBe(401);
    const admitted = await app.inject({ method: 'GET', url: '/new', headers: { 'x-api-key': KEY } });
    expect(admitted.statusCode).toBe(200);
    // A label of the key, never the key.
    expect(admitted.json().caller).toMatch(/^key-[0-9a-f]{8}$/);
    // The rate limit is in the hook as well.
    expect((await app.inject({ method: 'GET', url: '/new', headers: { 'x-api-key': KEY } })).statusCode).toBe(
      429,
    );
    await app.close();
  });
});

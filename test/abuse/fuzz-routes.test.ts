import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';

// Bounded so that the whole file runs in a few seconds, even on a loaded machine.
const RUNS = 80;

let app: FastifyInstance;
let url: string;
beforeAll(async () => {
  app = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
    }),
    bodyLimitBytes: 64 * 1024,
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

/** Fails unless `text` is an error body in the route's shape. */
function expectShape(path: string, text: string): void {
  const body = JSON.parse(text) as Record<string, unknown>;
  if (path === '/v1/chat/completions') {
    expect(body).toEqual({
      error: { message: expect.any(String), type: expect.any(String), param: null, code: null },
    });
  } else {
    expect(body).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  }
}

async function post(path: string, body: string | Blob): Promise<void> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  expect(response.status, text).toBeLessThan(500);
  expect(response.status).toBeGreaterThanOrEqual(200);
  if (response.status >= 400) expectShape(path, text);
}

// Near-valid requests reach past the JSON parser into the validators and the converters.
const content = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.array(fc.record({ type: fc.constantFrom('text', 'image', 'tool_result', 'x'), text: fc.jsonValue() }), {
    maxLength: 3,
  }),
  fc.jsonValue(),
);
const nearValid = fc.record(
  {
    model: fc.oneof(fc.constantFrom('sim:default', 'nope:x', 'alias', ''), fc.jsonValue()),
    // Small, so a request that happens to be valid is answered at once.
    max_tokens: fc.oneof(fc.integer({ min: -3, max: 20 }), fc.jsonValue()),
    stream: fc.oneof(fc.boolean(), fc.jsonValue()),
    messages: fc.oneof(
      fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool', 'x'), content }), {
        maxLength: 3,
      }),
      fc.jsonValue(),
    ),
    tools: fc.jsonValue(),
    request: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

describe.each(['/v1/messages', '/v1/chat/completions', '/streaming_chat'])(
  'POST %s under fuzzing',
  (path) => {
    it('any JSON value: a 2xx or a 4xx in the route’s shape, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), (value) => post(path, JSON.stringify(value) ?? 'null')),
        { numRuns: RUNS },
      );
    });

    it('any bytes', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (bytes) =>
          post(path, new Blob([new Uint8Array(bytes)])),
        ),
        { numRuns: RUNS },
      );
    });

    it('requests that are nearly right', async () => {
      await fc.assert(
        fc.asyncProperty(nearValid, (value) => post(path, JSON.stringify(value))),
        { numRuns: RUNS },
      );
    });

    it('the gateway is still up', async () => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    });
  },
);

import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer, type GatewayOptions } from '../../src/server/app.ts';
import { AuthFailures } from '../../src/server/auth-failures.ts';
import { openRaw, postHead, rawExchange, responseOf } from '../helpers/raw-http.ts';

const KEY = 'sk-abuse-test-key';
const ASK = { model: 'sim:default', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function gateway(options: GatewayOptions = {}): Promise<string> {
  const registry = new ProviderRegistry({
    env: {},
    providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
  });
  app = createServer({ registry, ...options });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function ask(url: string, key?: string): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify(ASK),
  });
}

describe('a body that stops arriving', () => {
  it('is cut at the body timeout with a 408 in the route’s shape, and the connection closed', async () => {
    const url = await gateway({ timeouts: { bodyMs: 300 } });
    const socket = await openRaw(url);
    const since = performance.now();
    const answer = responseOf(socket, since);
    socket.write(`${postHead('/v1/messages', 100)}{"model":`);
    const result = await answer;
    expect(result.status).toBe(408);
    expect(JSON.parse(result.body)).toEqual({
      type: 'error',
      error: { type: 'timeout_error', message: expect.stringMatching(/paused for more than 300 ms/) },
    });
    // Not before the timeout; well before the default one (30 s), with room for a loaded machine.
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(result.closedAfterMs).toBeLessThan(5_000);
  });

  it('a body dripping a byte at a time is cut at the total request time', async () => {
    const url = await gateway({ timeouts: { bodyMs: 5_000, requestMs: 400 } });
    const socket = await openRaw(url);
    const answer = responseOf(socket);
    socket.write(postHead('/v1/messages', 1000));
    const drip = setInterval(() => socket.writable && socket.write(' '), 50);
    try {
      const result = await answer;
      expect(result.status).toBe(408);
      expect(result.body).toMatch(/took more than 400 ms to arrive/);
      expect(result.closedAfterMs).toBeLessThan(5_000);
    } finally {
      clearInterval(drip);
    }
  });

  it('500 such connections are all cut, and legitimate requests are served alongside them', async () => {
    const url = await gateway({ timeouts: { bodyMs: 3_000 } });
    const stalled: Socket[] = [];
    const answers: Promise<{ status: number; closedAfterMs: number }>[] = [];
    const since = performance.now();
    for (let i = 0; i < 500; i++) {
      const socket = await openRaw(url);
      answers.push(responseOf(socket, since));
      socket.write(`${postHead('/v1/messages', 1000)}{"model":"sim:default",`);
      stalled.push(socket);
    }
    try {
      // While all 500 hold their connections: the gateway answers others at once.
      for (let i = 0; i < 20; i++) {
        const response = await ask(url);
        expect(response.status).toBe(200);
        expect((await response.json()).stop_reason).toBe('max_tokens');
      }
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const results = await Promise.all(answers);
      expect(results.filter((result) => result.status !== 408)).toEqual([]);
      // The last opened paused at most 3 s before it was cut; margins for a loaded 2-core machine.
      expect(Math.max(...results.map((result) => result.closedAfterMs))).toBeLessThan(20_000);
    } finally {
      for (const socket of stalled) socket.destroy();
    }
  }, 30_000);
});

describe('headers that stop arriving', () => {
  it('are cut at the headers timeout with a 408', async () => {
    const url = await gateway({ timeouts: { headersMs: 300 } });
    const socket = await openRaw(url);
    const answer = responseOf(socket);
    socket.write('POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ');
    const result = await answer;
    expect(result.status).toBe(408);
    expect(JSON.parse(result.body).error.type).toBe('timeout_error');
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(result.closedAfterMs).toBeLessThan(5_000);
  });
});

describe('an idle keep-alive connection', () => {
  it('is closed after the keep-alive timeout', async () => {
    const url = await gateway({ timeouts: { keepAliveMs: 300 } });
    const socket = await openRaw(url);
    const closed = new Promise<number>((resolve) => {
      let answeredAt = 0;
      socket.on('data', () => {
        answeredAt = performance.now();
      });
      socket.once('close', () => resolve(performance.now() - answeredAt));
    });
    socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const idleFor = await closed;
    expect(idleFor).toBeGreaterThanOrEqual(250);
    expect(idleFor).toBeLessThan(5_000);
  });
});

describe('authentication before the body', () => {
  it('a wrong or missing key gets its 401 without a byte of the body sent, and the connection closed', async () => {
    const url = await gateway({ apiKeys: [KEY] });
    for (const headers of [{}, { 'x-api-key': 'sk-wrong' }] as Record<string, string>[]) {
      // A body of 1 MB is announced and never sent: the 401 cannot have waited for it.
      const result = await rawExchange(url, postHead('/v1/messages', 1_000_000, headers));
      expect(result.status).toBe(401);
      expect(JSON.parse(result.body).error.type).toBe('authentication_error');
      expect(result.headers.connection).toBe('close');
    }
  });

  it('a right key reads the body as usual', async () => {
    const url = await gateway({ apiKeys: [KEY] });
    const response = await ask(url, KEY);
    expect(response.status).toBe(200);
  });
});

describe('failed key attempts', () => {
  it('past the limit, the address is refused with 429 and retry-after, even with the right key', async () => {
    const url = await gateway({ apiKeys: [KEY], failedKeyLimit: { maxFailures: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await ask(url, `sk-guess-${i}`)).status).toBe(401);
    for (const key of ['sk-guess-4', KEY]) {
      const response = await ask(url, key);
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(50);
      expect((await response.json()).error.message).toMatch(/wrong or missing API key/);
    }
  });

  it('the window passes and the address may try again; the limit counts per address', () => {
    let now = 0;
    const failures = new AuthFailures({ maxFailures: 2, windowMs: 1_000 }, () => now);
    failures.recordFailure('10.0.0.1');
    failures.recordFailure('10.0.0.1');
    expect(() => failures.assertAllowed('10.0.0.1')).toThrow(/retry after 1 s/);
    expect(() => failures.assertAllowed('10.0.0.2')).not.toThrow();
    now = 1_000;
    expect(() => failures.assertAllowed('10.0.0.1')).not.toThrow();
  });

  it('off with maxFailures 0', async () => {
    const url = await gateway({ apiKeys: [KEY], failedKeyLimit: { maxFailures: 0, windowMs: 60_000 } });
    for (let i = 0; i < 30; i++) expect((await ask(url, 'sk-wrong')).status).toBe(401);
    expect((await ask(url, KEY)).status).toBe(200);
  });
});

describe('connections per address', () => {
  it('past the maximum, a new connection is answered 429 and closed; the others keep working', async () => {
    const url = await gateway({ maxConnectionsPerAddress: 3 });
    const held = await Promise.all([openRaw(url), openRaw(url), openRaw(url)]);
    try {
      const refused = await rawExchange(url, 'GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body).error.message).toMatch(/at most 3 at once/);
      const answer = responseOf(held[0]!);
      held[0]!.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
      expect((await answer).status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('no limit by default', async () => {
    const url = await gateway();
    const held = await Promise.all(Array.from({ length: 50 }, () => openRaw(url)));
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});

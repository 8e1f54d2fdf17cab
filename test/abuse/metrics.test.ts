import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createGateway } from '../../src/server/app.ts';
import { createTelemetry } from '../../src/server/observability.ts';
import { BASE_ENV } from '../helpers/cli.ts';
import { type MeasuredGateway, startMeasuredGateway } from '../helpers/measured-gateway.ts';

/*
 * Label cardinality: a caller chooses the `model` of every request, and each distinct name
 * used to become a Prometheus label set held for good (50,000 names: +400 MB of RSS; 20,000
 * names of 1 KB: a 350 MB `/metrics`). 10,000 distinct names, sent over real HTTP to a real
 * gateway process, must leave its `/metrics` and its memory bounded.
 */

const GATEWAY_KEY = 'gw-key-for-the-metrics-test';
const METRICS_KEY = 'metrics-key-for-the-metrics-test';
const NAMES = 10_000;
const CONCURRENCY = 32;

const scratch = mkdtempSync(join(tmpdir(), 'sluice-abuse-metrics-'));
let upstream: Server;
let gateway: MeasuredGateway;

beforeAll(async () => {
  // An OpenAI-compatible upstream that refuses every key, as a real one refuses a bad model or key.
  upstream = createServer((request, response) => {
    request.resume().once('end', () => {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ error: { type: 'invalid_request_error', message: 'Incorrect API key.' } }),
      );
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const config = join(scratch, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      server: { apiKeys: [GATEWAY_KEY], metricsKey: METRICS_KEY, logLevel: 'error' },
      defaultModel: 'sim:default',
      providers: {
        sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 0 } },
        upstream: {
          type: 'openai',
          baseURL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
          apiKeyEnv: 'UPSTREAM_KEY',
        },
      },
      aliases: { fast: 'sim:default' },
    }),
  );
  gateway = await startMeasuredGateway(config, { ...BASE_ENV, UPSTREAM_KEY: 'upstream-provider-key' });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

async function metricsText(): Promise<string> {
  const response = await fetch(`${gateway.url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_KEY}` },
  });
  expect(response.status).toBe(200);
  return response.text();
}

/**
 * One request of the mix, each with a valid key (a caller without one never gets as far as
 * naming a model): a simulated model that answers (200), a provider that does not exist (404,
 * before any upstream), an upstream that refuses the gateway's key (502), on either API route.
 * Names are short, 1 KB long, or hold a NUL byte.
 */
async function send(i: number, name: (i: number) => string): Promise<number> {
  const kind = i % 4;
  const model =
    kind === 1 ? `sim:${name(i)}` : kind === 2 ? `nowhere-${i}:${name(i)}` : `upstream:${name(i)}`;
  const path = kind === 0 ? '/v1/chat/completions' : '/v1/messages';
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_KEY },
    body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function sendAll(count: number, name: (i: number) => string): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const status = await send(next++, name);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

function distinctModelLabels(text: string): Set<string> {
  return new Set([...text.matchAll(/model="((?:[^"\\]|\\.)*)"/g)].map((match) => match[1] ?? ''));
}

describe('metric labels under 10,000 distinct model names', () => {
  it('keeps /metrics and the process memory bounded, and no NUL reaches the exposition text', async () => {
    const name = (round: string) => (i: number) =>
      i % 3 === 0
        ? `${round}${i}-${'x'.repeat(1024)}`
        : i % 3 === 1
          ? `${round}${i}\u0000nul`
          : `${round}${i}`;
    // A first burst brings the heap, the allocator and the capped labels to their size; the
    // second, all new names again, must then add nothing the gateway keeps.
    const first = await sendAll(NAMES, name('a'));
    const before = { ...(await gateway.memory()), metrics: (await metricsText()).length };
    const second = await sendAll(NAMES, name('b'));
    const text = await metricsText();
    const after = { ...(await gateway.memory()), metrics: text.length };
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(
      `2 × 10,000 names: /metrics ${before.metrics} → ${after.metrics} bytes, heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB, external ${mib(before.external)} → ${mib(after.external)} MiB, RSS ${mib(before.rss)} → ${mib(after.rss)} MiB; statuses ${JSON.stringify([...first])} ${JSON.stringify([...second])}`,
    );

    // Every kind of request was made, failures included: that is what used to leak.
    expect(second.get(200)).toBe(NAMES / 4);
    expect(second.get(404)).toBe(NAMES / 4);
    expect(second.get(502)).toBe(NAMES / 2);

    // The configured models, the simulator's first 50 answering names, and `other`.
    const labels = distinctModelLabels(text);
    expect(labels.size).toBeLessThanOrEqual(4 + 50 + 1);
    expect(labels).toContain('other');
    expect(text).not.toContain('\u0000');
    expect(text).not.toContain('nowhere-');
    expect(text).not.toMatch(/upstream:[ab]\d/);
    expect(text).not.toMatch(/sim:b\d/);
    // Unbounded, each name added about 1.5 KB to /metrics; bounded, only the counts change.
    expect(after.metrics).toBeLessThan(300_000);
    expect(after.metrics - before.metrics).toBeLessThan(2_000);
    // Unbounded, 10,000 names took about 100 MB of heap and 275 MB of RSS.
    // What the gateway holds is its heap and its buffers outside it, after a full collection.
    expect(after.heapUsed - before.heapUsed).toBeLessThan(4 * 2 ** 20);
    expect(after.external - before.external).toBeLessThan(4 * 2 ** 20);
    // RSS also counts pages V8 and the allocator keep for the next burst (7 to 27 MB measured
    // on a loaded 2-core machine, with the heap flat): a loose bound that still catches a leak.
    expect(after.rss - before.rss).toBeLessThan(64 * 2 ** 20);

    const health = performance.now();
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect(performance.now() - health).toBeLessThan(1000);
  }, 240_000);
});

describe('GET /metrics with keys on', () => {
  it('asks for the metrics key; the gateway keys do not open it', async () => {
    const without = await fetch(`${gateway.url}/metrics`);
    expect(without.status).toBe(401);
    expect(await without.json()).toMatchObject({ error: { type: 'authentication_error' } });
    const gatewayKey = await fetch(`${gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    expect(gatewayKey.status).toBe(401);
    const wrong = await fetch(`${gateway.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await metricsText()).toMatch(/^# TYPE sluice_requests_total counter$/m);
  });
});

describe('GET /metrics by configuration', () => {
  async function statusOf(options: { apiKeys?: string[]; metricsKey?: string }, authorization?: string) {
    const app = createGateway({ ...options, telemetry: createTelemetry({ logger: false }) });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const response = await fetch(`${url}/metrics`, { headers });
      await response.arrayBuffer();
      return response.status;
    } finally {
      await app.close();
    }
  }

  it('is open without keys, asks for the metrics key once one is set, and is closed with keys and none', async () => {
    expect(await statusOf({})).toBe(200);
    expect(await statusOf({ metricsKey: 'm' })).toBe(401);
    expect(await statusOf({ metricsKey: 'm' }, 'Bearer m')).toBe(200);
    expect(await statusOf({ apiKeys: ['k'] })).toBe(403);
    expect(await statusOf({ apiKeys: ['k'] }, 'Bearer k')).toBe(403);
    expect(await statusOf({ apiKeys: ['k'], metricsKey: 'm' }, 'Bearer k')).toBe(401);
    expect(await statusOf({ apiKeys: ['k'], metricsKey: 'm' }, 'Bearer m')).toBe(200);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.ts';

/*
 * No configured secret ever reaches a caller or the log, across a matrix of upstream failures
 * × the three routes × streaming or not. The upstream is a real HTTP server that does what
 * careless or hostile upstreams do: echo the key it was sent, put it in an HTML 500 page,
 * send it in a mid-stream error event; the gateway also has a base URL with a password in it
 * and one nobody listens on. The gateway is a real `sluice serve` process, and its log is
 * what it writes on stdout and stderr.
 */

// Shapes a prefix-based scrubber would miss: none starts with sk-.
const PROVIDER_KEY = 'upk_Z9q8W7e6R5t4Y3u2';
const GATEWAY_KEY = 'gwk.7Hd92kLq-gateway';
const METRICS_KEY = 'mtk-93jdKq0P-metrics';
const URL_PASSWORD = 'p4ss-W0rd-xyz';
// The URL's credentials as HTTP Basic authentication sends them: an upstream may echo that too.
const BASIC = Buffer.from(`gwuser:${URL_PASSWORD}`).toString('base64');
const SECRETS = [PROVIDER_KEY, GATEWAY_KEY, METRICS_KEY, URL_PASSWORD, BASIC];

const scratch = mkdtempSync(join(tmpdir(), 'sluice-abuse-secrets-'));
let upstream: Server;
let upstreamPort: number;
let closedPort: number;
let gateway: ServeProcess;

/** Everything the upstream was sent that could identify the gateway's credentials. */
function credentialsOf(request: IncomingMessage): string {
  return `x-api-key=${request.headers['x-api-key']} authorization=${request.headers.authorization}`;
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The upstream's behaviour is the model the gateway asks it for. */
function answer(model: string, request: IncomingMessage, response: import('node:http').ServerResponse): void {
  const echoed = credentialsOf(request);
  switch (model) {
    case 'echo401':
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'authentication_error', message: `invalid x-api-key: ${PROVIDER_KEY} (${echoed})` },
        }),
      );
      return;
    case 'html500':
      response.writeHead(500, { 'content-type': 'text/html' });
      response.end(
        `<html><body><h1>500</h1><pre>key=${PROVIDER_KEY} ${echoed} backend=10.1.2.3:8443 http://admin:${URL_PASSWORD}@db.internal:5432</pre></body></html>`,
      );
      return;
    case 'echourl':
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          type: 'error',
          error: {
            type: 'api_error',
            message: `proxy failed for http://gwuser:${URL_PASSWORD}@127.0.0.1:${upstreamPort}${request.url} (${echoed})`,
          },
        }),
      );
      return;
    case 'midstream': {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const message = {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 3, output_tokens: 0 },
      };
      response.write(sse('message_start', { type: 'message_start', message }));
      response.write(
        sse('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }),
      );
      response.write(
        sse('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: 'Hel' },
        }),
      );
      response.end(
        sse('error', {
          type: 'error',
          error: {
            type: 'overloaded_error',
            message: `overloaded; key ${PROVIDER_KEY} at 127.0.0.1:${upstreamPort}`,
          },
        }),
      );
      return;
    }
    default:
      response.writeHead(404).end();
  }
}

beforeAll(async () => {
  upstream = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    request.once('end', () => answer((JSON.parse(body) as { model: string }).model, request, response));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));

  const config = join(scratch, 'config.json');
  const keyed = { type: 'anthropic', apiKeyEnv: 'UPSTREAM_KEY' };
  writeFileSync(
    config,
    JSON.stringify({
      server: { apiKeys: [GATEWAY_KEY], metricsKey: METRICS_KEY },
      providers: {
        up: { ...keyed, baseURL: `http://127.0.0.1:${upstreamPort}` },
        creds: { ...keyed, baseURL: `http://gwuser:${URL_PASSWORD}@127.0.0.1:${upstreamPort}` },
        dead: { ...keyed, baseURL: `http://127.0.0.1:${closedPort}` },
        deadcreds: { ...keyed, baseURL: `http://gwuser:${URL_PASSWORD}@127.0.0.1:${closedPort}` },
      },
      // Every failure is final at once: the matrix is about what the caller sees, not retries.
      resilience: { maxRetries: 0, resume: false },
      routes: {
        definitions: FAILURES.map(({ name, model }) => ({ name, keywords: [name], model })),
      },
    }),
  );
  gateway = await serveProcess(['--config', config], { UPSTREAM_KEY: PROVIDER_KEY });
}, 60_000);

afterAll(async () => {
  gateway?.child.kill('SIGKILL');
  await gateway?.exited;
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

interface Failure {
  name: string;
  model: string;
}

const FAILURES: Failure[] = [
  { name: 'echo401', model: 'up:echo401' },
  { name: 'html500', model: 'up:html500' },
  { name: 'urlcreds', model: 'creds:echourl' },
  { name: 'refused', model: 'dead:any' },
  { name: 'refusedcreds', model: 'deadcreds:any' },
  { name: 'midstream', model: 'up:midstream' },
];

type Route = '/v1/messages' | '/v1/chat/completions' | '/streaming_chat';
const CASES: Array<[Route, boolean]> = [
  ['/v1/messages', false],
  ['/v1/messages', true],
  ['/v1/chat/completions', false],
  ['/v1/chat/completions', true],
  ['/streaming_chat', true],
];

function bodyFor(route: Route, failure: Failure, stream: boolean): unknown {
  const messages = [{ role: 'user', content: 'Hello' }];
  if (route === '/streaming_chat') return { request: `please ${failure.name}` };
  if (route === '/v1/messages') return { model: failure.model, max_tokens: 20, messages, stream };
  return { model: failure.model, messages, stream, max_tokens: 20 };
}

async function call(route: Route, failure: Failure, stream: boolean) {
  const response = await fetch(`${gateway.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` },
    body: JSON.stringify(bodyFor(route, failure, stream)),
  });
  const headers = JSON.stringify([...response.headers]);
  return { status: response.status, headers, body: await response.text() };
}

/** What a caller must never learn: a secret, or where the gateway's upstreams are. */
function leaksIn(text: string): string[] {
  const internal = [`127.0.0.1:${upstreamPort}`, `127.0.0.1:${closedPort}`, '10.1.2.3'];
  return [...SECRETS, ...internal].filter((value) => text.includes(value));
}

describe('upstream failures never carry a secret to the caller', () => {
  describe.each(FAILURES)('$name', (failure) => {
    it.each(CASES)('%s (stream: %s)', async (route, stream) => {
      const { status, headers, body } = await call(route, failure, stream);
      expect(leaksIn(headers)).toEqual([]);
      expect(leaksIn(body)).toEqual([]);
      // A failure, said as one: an HTTP error, or once streaming, an error event or marker.
      const failedLate = status === 200;
      expect(failedLate ? /error/.test(body) : status >= 500).toBe(true);
      if (failure.name === 'echo401' && !failedLate) {
        // The gateway's own key was refused upstream: its misconfiguration, not the caller's 401.
        expect(status).toBe(502);
        expect(body).toMatch(/misconfigured/);
        expect(body).toMatch(/api_error/);
      }
      if (failure.name === 'midstream' && stream) {
        expect(status).toBe(200);
        expect(body).toMatch(/Hel/);
        expect(body).toMatch(/overloaded/);
      }
    });
  });

  it('keeps every configured secret out of the log, while the log still says what failed', async () => {
    // The matrix above ran first (vitest runs a file's tests in order); its lines are in.
    const log = gateway.stdout() + gateway.stderr();
    expect(log).toMatch(/"msg":"request"/);
    expect(log).toMatch(/authentication_error|misconfigured/);
    expect(SECRETS.filter((secret) => log.includes(secret))).toEqual([]);
    expect(log).toMatch(/"key":"key-[0-9a-f]{8}"/);
  });

  it('keeps the gateway and metrics keys out of /metrics', async () => {
    const response = await fetch(`${gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_KEY}` },
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(leaksIn(text)).toEqual([]);
  });
});

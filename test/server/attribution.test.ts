import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayConfig, loadConfig } from '../../src/server/config.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createTelemetry, type GatewayTelemetry } from '../../src/server/observability.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';

/*
 * Attribution: every request line of the log names the key that made the request (by a
 * digest prefix, never any of its characters), and every route's tokens are counted and
 * logged, `/streaming_chat`'s included.
 */

const KEYS = ['attribution-key-one', 'attribution-key-two'];
const label = (key: string) => `key-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;

const lines: Record<string, unknown>[] = [];
const raw: string[] = [];
let gateway: RunningGateway;
let telemetry: GatewayTelemetry;

beforeAll(async () => {
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const base = loadConfig({ env: {}, overrides: { port: 0 } }).config;
  const config: GatewayConfig = {
    ...base,
    defaultModel: 'sim:default',
    server: { ...base.server, apiKeys: KEYS },
    providers: { sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 0 } } },
  };
  telemetry = createTelemetry({ logger: createLogger({ destination }) });
  gateway = await startGateway(config, { env: {}, telemetry });
});

afterAll(() => gateway?.close(0));

async function post(path: string, key: string | undefined, body: unknown): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['x-api-key'] = key;
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  await response.text();
  return response.status;
}

const messages = [{ role: 'user', content: 'Hello there' }];
const REQUESTS: Array<[string, unknown]> = [
  ['/v1/messages', { model: 'sim:default', max_tokens: 12, messages }],
  ['/v1/messages', { model: 'sim:default', max_tokens: 12, messages, stream: true }],
  ['/v1/chat/completions', { model: 'sim:default', max_tokens: 12, messages }],
  ['/v1/chat/completions', { model: 'sim:default', max_tokens: 12, messages, stream: true }],
  ['/streaming_chat', { request: 'Hello there' }],
];

function requestLines(route: string) {
  return lines.filter((line) => line.msg === 'request' && line.route === route);
}

describe('request log lines', () => {
  it('name the calling key by its label on every route, never the key', async () => {
    for (const [index, [path, body]] of REQUESTS.entries()) {
      const key = KEYS[index % 2]!;
      expect(await post(path, key, body)).toBe(200);
    }
    // A refused key is a request too: its line has no key to name, and holds none.
    expect(await post('/v1/messages', 'not-a-key-at-all', REQUESTS[0]![1])).toBe(401);

    const answered = lines.filter((line) => line.msg === 'request' && line.status === 200);
    expect(answered).toHaveLength(REQUESTS.length);
    answered.forEach((line, index) => {
      expect(line.key).toBe(label(KEYS[index % 2]!));
    });
    const text = raw.join('\n');
    for (const key of [...KEYS, 'not-a-key-at-all']) expect(text).not.toContain(key);
    for (const key of KEYS) expect(text).not.toContain(key.slice(0, 6));
  });

  it('log the tokens of the API routes and count them in sluice_tokens_total', async () => {
    for (const route of ['/v1/messages', '/v1/chat/completions']) {
      for (const line of requestLines(route).filter((each) => each.status === 200)) {
        expect(line.outputTokens).toBe(12);
        expect(line.inputTokens).toBeGreaterThan(0);
      }
    }
    const metrics = await telemetry.metrics();
    expect(metrics).toMatch(/^sluice_tokens_total\{model="sim:default",direction="output"\} \d+$/m);
  });

  // /streaming_chat reaches its models through the one model-call path, which reports usage.
  it('log the tokens of /streaming_chat', () => {
    const [line] = requestLines('/streaming_chat');
    expect(line?.key).toBe(label(KEYS[0]!));
    expect(line?.outputTokens).toBeGreaterThan(0);
  });
});

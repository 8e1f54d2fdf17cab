import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';
import { NO_TELEMETRY, type Telemetry } from '../../src/server/telemetry.ts';
import { openRaw, postHead, responseOf } from '../helpers/raw-http.ts';
import { refusedWithin } from '../helpers/serve-process.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-shutdown-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// `sim` answers slowly (a long answer is still running when the grace period ends); `late`
// has not sent its first token by then.
const CONFIG = {
  providers: {
    sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 20 } },
    late: { type: 'sim', pacing: { ttftMs: 60_000 } },
  },
  routes: {
    definitions: [
      { name: 'late', keywords: ['late'], model: 'late:default' },
      { name: 'slow', keywords: ['slow'], model: 'sim:default' },
    ],
  },
};
const GRACE_MS = 100;

/** A gateway whose telemetry says when a request has reached its model. */
async function gateway(): Promise<{ running: RunningGateway; reachedModel: Promise<void> }> {
  const path = join(scratch, 'config.json');
  writeFileSync(path, JSON.stringify(CONFIG));
  const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
  let reached!: () => void;
  const reachedModel = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const telemetry: Telemetry = {
    start: (...args) => ({ ...NO_TELEMETRY.start(...args), model: () => reached() }),
  };
  return { running: await startGateway(config, { env: {}, telemetry }), reachedModel };
}

interface RouteCase {
  path: string;
  body(model: 'sim' | 'late', stream: boolean): unknown;
  /** The error as this route's clients read it. */
  error(body: string): { type: string; message: string };
}

const anthropicError = (text: string) =>
  (JSON.parse(text) as { error: { type: string; message: string } }).error;
const ROUTES: RouteCase[] = [
  {
    path: '/v1/messages',
    body: (model, stream) => ({
      model: `${model}:default`,
      max_tokens: 500,
      stream,
      messages: [{ role: 'user', content: 'Write a long essay on rivers.' }],
    }),
    error: anthropicError,
  },
  {
    path: '/v1/chat/completions',
    body: (model, stream) => ({
      model: `${model}:default`,
      max_tokens: 500,
      stream,
      messages: [{ role: 'user', content: 'Write a long essay on rivers.' }],
    }),
    // OpenAI's shape: the error object at the top, with param and code.
    error: (text) => {
      const body = JSON.parse(text) as { error: { type: string; message: string; param: null; code: null } };
      expect(body.error).toHaveProperty('param', null);
      return body.error;
    },
  },
  {
    path: '/streaming_chat',
    body: (model) => ({ request: `${model === 'late' ? 'late' : 'slow'}: a long essay on rivers` }),
    error: anthropicError,
  },
];

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the end of the grace period', () => {
  for (const route of ROUTES) {
    // /streaming_chat always streams: its counterpart is the request cut before its first chunk.
    if (route.path !== '/streaming_chat') {
      it(`${route.path}, not streaming: a retryable 529 overloaded_error, in the route's shape`, async () => {
        const { running, reachedModel } = await gateway();
        const response = post(running.url, route.path, route.body('sim', false));
        await reachedModel;
        await running.close(GRACE_MS);
        const answer = await response;
        expect(answer.status).toBe(529);
        expect(route.error(await answer.text())).toEqual({
          type: 'overloaded_error',
          message: 'The gateway is shutting down; retry the request.',
          ...(route.path === '/v1/chat/completions' ? { param: null, code: null } : {}),
        });
      });
    }

    it(`${route.path}, streaming, after the first byte: the stream ends with overloaded_error`, async () => {
      const { running } = await gateway();
      const response = await post(running.url, route.path, route.body('sim', true));
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value, { stream: true });
      const closed = running.close(GRACE_MS);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await closed;
      const ending: Record<string, RegExp> = {
        '/v1/messages':
          /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error","message":"The gateway is shutting down; retry the request\."\}\}\n\n$/,
        '/v1/chat/completions':
          /data: \{"error":\{"message":"The gateway is shutting down; retry the request\.","type":"overloaded_error","param":null,"code":null\}\}\n\n$/,
        '/streaming_chat':
          /\[error: overloaded_error: The gateway is shutting down; retry the request\.\]\n$/,
      };
      expect(text).toMatch(ending[route.path]!);
    });
  }

  const chat = ROUTES[2]!;
  // The API routes open their stream with message_start, before any token; /streaming_chat
  // opens it with its first text, so its requests can be cut before their first byte.
  it(`${chat.path}, before the first chunk: a 529 overloaded_error as an HTTP error`, async () => {
    const { running, reachedModel } = await gateway();
    const response = post(running.url, chat.path, chat.body('late', true));
    await reachedModel;
    await running.close(GRACE_MS);
    const answer = await response;
    expect(answer.status).toBe(529);
    expect(chat.error(await answer.text()).type).toBe('overloaded_error');
  });

  it('a request that reaches it during the drain (on a connection busy with one in flight) gets a 529 with retry-after', async () => {
    const { running, reachedModel } = await gateway();
    const socket = await openRaw(running.url);
    const answers = responseOf(socket);
    const body = JSON.stringify({
      model: 'sim:default',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    socket.write(`${postHead('/v1/messages', Buffer.byteLength(body))}${body}`);
    await reachedModel;
    const closed = running.close(30_000);
    // New connections refused: the gateway is closing; this connection is busy, so still open.
    expect(await refusedWithin(running.url, 1000)).toBe(true);
    socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const text = (await answers).raw;
    await closed;
    // The request in flight finishes within the grace period; the one behind it is turned away.
    const [first, second] = text.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^HTTP\/1\.1 529 /);
    expect(second).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second).toContain('"type":"overloaded_error"');
  });
});

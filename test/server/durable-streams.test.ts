import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import type { Stream } from '@anthropic-ai/sdk/streaming';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Usage } from '../../src/protocol/message.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { STREAM_PATH } from '../../src/server/admission.ts';
import { createServer } from '../../src/server/app.ts';
import { loadConfig } from '../../src/server/config.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createTelemetry } from '../../src/server/observability.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { startGateway } from '../../src/server/start.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';
import { openRedisStreamLog } from '../../src/server/streams/redis-store.ts';
import type { Lease, LogEntry, StreamLog } from '../../src/server/streams/types.ts';
import type { RequestTelemetry, Telemetry } from '../../src/server/telemetry.ts';
import { anthropicText, BodyReader, eventIds, openAIText, sseEvents } from '../helpers/sse-reader.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from './streams/redis-service.ts';

const KEY = 'sk-durable-test-key';
const OTHER_KEY = 'sk-durable-other-key';
const PROMPT = 'Write a long essay on rivers, in detail.';

interface Instances {
  a: string;
  b: string;
  sim: Simulator;
}

/**
 * Two gateways in front of one paced simulator: on the Redis store they share one log (the
 * two instances of a deployment); on the memory store "both" are the same gateway.
 */
function useInstances(
  store: 'memory' | 'redis',
  options: {
    streams?: { detachGraceMs: number; onDisconnect: 'detach' | 'abort' };
    telemetry?: Telemetry;
    /** The keys the gateways want (default KEY and OTHER_KEY); none: a keyless gateway. */
    apiKeys?: string[];
  } = {},
) {
  const streams = options.streams ?? { detachGraceMs: 30_000, onDisconnect: 'detach' as const };
  const state = {} as Instances;
  const apps: FastifyInstance[] = [];
  const prefix = uniquePrefix('durable-routes');
  let enabled = true;
  beforeAll(async () => {
    if (store === 'redis') enabled = await redisForTests();
    state.sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 400 } });
    const start = async (log: StreamLog) => {
      const app = createServer({
        registry: new ProviderRegistry({
          env: {},
          providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: state.sim.url }) },
        }),
        apiKeys: options.apiKeys ?? [KEY, OTHER_KEY],
        pingIntervalMs: 0,
        streamLog: log,
        streams,
        telemetry: options.telemetry,
      });
      apps.push(app);
      return app.listen({ host: '127.0.0.1', port: 0 });
    };
    if (store === 'memory' || !enabled) {
      state.a = await start(new MemoryStreamLog());
      state.b = state.a;
    } else {
      state.a = await start(await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix }));
      state.b = await start(await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix }));
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await state.sim?.close();
    if (store === 'redis') await deleteKeys(prefix);
  });
  return state;
}

const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });

function post(url: string, path: string, body: object, key = KEY): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(key) },
    body: JSON.stringify(body),
  });
}

const messages = (maxTokens = 300) => ({
  model: 'upstream:default',
  max_tokens: maxTokens,
  stream: true,
  messages: [{ role: 'user', content: PROMPT }],
});
const chat = (maxTokens = 300) => ({
  model: 'upstream:default',
  max_completion_tokens: maxTokens,
  stream: true,
  messages: [{ role: 'user', content: PROMPT }],
});

function resume(
  url: string,
  id: string,
  init: { after?: number; headers?: Record<string, string>; query?: string } = {},
) {
  const query = init.query ?? (init.after === undefined ? '' : `?after=${init.after}`);
  return fetch(`${url}/v1/streams/${id}${query}`, { headers: { ...auth(), ...init.headers } });
}

describe.each(['memory', 'redis'] as const)('durable streams on the %s store', (store) => {
  const instances = useInstances(store);

  it('gives every streamed answer a stream id, a resume token and contiguous event ids', async () => {
    const response = await post(instances.a, '/v1/messages', messages(40));
    expect(response.headers.get('sluice-stream-id')).toMatch(/^str_/);
    expect(response.headers.get('sluice-resume-token')).toMatch(/^[\w-]{32}$/);
    const text = await response.text();
    const ids = eventIds(text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(sseEvents(text)).toHaveLength(ids.length);
  });

  it('property: cut anywhere, resumed on either instance, the text is the uninterrupted answer byte for byte', async () => {
    const whole = anthropicText(await (await post(instances.a, '/v1/messages', messages())).text());
    expect(whole.length).toBeGreaterThan(200);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.boolean(), async (cutAfter, other) => {
        const live = await post(instances.a, '/v1/messages', messages());
        const id = live.headers.get('sluice-stream-id')!;
        const reader = new BodyReader(live);
        await reader.until((text) => sseEvents(text).length >= cutAfter);
        const kept = sseEvents(reader.text).slice(0, cutAfter).join('');
        await reader.cancel();
        const lastId = eventIds(kept).at(-1)!;
        const rest = await (await resume(other ? instances.b : instances.a, id, { after: lastId })).text();
        const ids = [...eventIds(kept), ...eventIds(rest)];
        expect(ids).toEqual(ids.map((_, i) => i + 1));
        expect(anthropicText(kept + rest)).toBe(whole);
      }),
      { numRuns: 8 },
    );
  });

  it('resumes after the end until the TTL, answers 204 at the end, and Last-Event-ID wins over ?after', async () => {
    const response = await post(instances.a, '/v1/messages', messages(30));
    const id = response.headers.get('sluice-stream-id')!;
    const original = await response.text();
    const all = await resume(instances.b, id, { after: 0 });
    expect(all.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await all.text()).toBe(original);
    const last = eventIds(original).at(-1)!;
    expect((await resume(instances.b, id, { after: last })).status).toBe(204);
    const fromHeader = await resume(instances.b, id, {
      after: 0,
      headers: { 'last-event-id': String(last - 2) },
    });
    expect(eventIds(await fromHeader.text())).toEqual([last - 1, last]);
  });

  it("404s an unknown stream and another key's stream with one body; the token opens only its stream", async () => {
    const first = await post(instances.a, '/v1/messages', messages(10));
    const second = await post(instances.a, '/v1/messages', messages(10));
    const [id, token] = [first.headers.get('sluice-stream-id')!, first.headers.get('sluice-resume-token')!];
    const otherId = second.headers.get('sluice-stream-id')!;
    await first.text();
    await second.text();
    const unknown = await resume(instances.b, 'str_00000000-0000-0000-0000-000000000000', { after: 0 });
    const otherKey = await resume(instances.b, id, { after: 0, headers: auth(OTHER_KEY) });
    expect(unknown.status).toBe(404);
    expect(otherKey.status).toBe(404);
    const bodies = [await unknown.json(), await otherKey.json()] as { error: { message: string } }[];
    expect(bodies[1]!.error.message.replace(id, 'ID')).toBe(
      bodies[0]!.error.message.replace('str_00000000-0000-0000-0000-000000000000', 'ID'),
    );
    // The token without any key opens its stream, and only it.
    const byToken = await fetch(`${instances.b}/v1/streams/${id}?token=${token}&after=0`);
    expect(byToken.status).toBe(200);
    expect(anthropicText(await byToken.text()).length).toBeGreaterThan(0);
    const wrongStream = await fetch(`${instances.b}/v1/streams/${otherId}?token=${token}`);
    expect(wrongStream.status).toBe(404);
    const noToken = await fetch(`${instances.b}/v1/streams/${id}`);
    expect(noToken.status).toBe(401);
    // The right key with a wrong token is refused too: a token given must be the stream's.
    const keyWrongToken = await resume(instances.b, id, { query: `?token=${token}x` });
    expect(keyWrongToken.status).toBe(404);
  });

  it('is read by the official Anthropic SDK from a Last-Event-ID, as a stream of events', async () => {
    const response = await post(instances.a, '/v1/messages', messages(40));
    const id = response.headers.get('sluice-stream-id')!;
    const original = await response.text();
    const client = new Anthropic({ baseURL: instances.b, authToken: KEY, apiKey: null, maxRetries: 0 });
    // The SDK's own SSE parser on an arbitrary path: `stream: true` on its generic GET. The SDK
    // sends `accept: application/json` by default, which asks for the status instead.
    const stream = await client.get<Stream<RawMessageStreamEvent>>(`/v1/streams/${id}`, {
      stream: true,
      headers: { accept: 'text/event-stream', 'last-event-id': '2' },
    });
    let text = '';
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    expect(types[0]).not.toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(text).toBe(anthropicText(sseEvents(original).slice(2).join('')));
  });

  it('resumes /v1/chat/completions as OpenAI chunks identical to the original ones', async () => {
    const response = await post(instances.a, '/v1/chat/completions', chat(40));
    const id = response.headers.get('sluice-stream-id')!;
    const original = await response.text();
    expect(original.endsWith('data: [DONE]\n\n')).toBe(true);
    const ids = eventIds(original);
    expect(ids.length).toBeGreaterThan(3);
    const cut = ids[2]!;
    const rest = await (await resume(instances.b, id, { after: cut })).text();
    const kept = sseEvents(original).filter((event) => {
      const eventId = /^id: (\d+)$/m.exec(event)?.[1];
      return eventId !== undefined && Number(eventId) <= cut;
    });
    expect(kept.join('') + rest).toBe(original);
    expect(openAIText(rest).length).toBeGreaterThan(0);
  });

  it('resumes /streaming_chat from a byte offset', async () => {
    const response = await post(instances.a, '/streaming_chat', { request: PROMPT });
    const id = response.headers.get('sluice-stream-id')!;
    const original = Buffer.from(await response.arrayBuffer());
    expect(original.length).toBeGreaterThan(10);
    const offset = Math.floor(original.length / 2);
    const rest = await resume(instances.b, id, { query: `?offset=${offset}` });
    expect(rest.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(Buffer.from(await rest.arrayBuffer())).toEqual(original.subarray(offset));
    expect((await resume(instances.b, id, { query: `?offset=${original.length}` })).status).toBe(204);
  });

  it('gives the status as JSON: finished, with the message and usage', async () => {
    const response = await post(instances.a, '/v1/messages', messages(20));
    const id = response.headers.get('sluice-stream-id')!;
    await response.text();
    const status = await resume(instances.b, id, { headers: { accept: 'application/json' } });
    const body = (await status.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id, status: 'finished', wire: 'anthropic' });
    expect(body.usage).toMatchObject({ output_tokens: expect.any(Number) });
    expect((body.message as { content: unknown[] }).content.length).toBeGreaterThan(0);
  });

  it('DELETE aborts the upstream call within 100 ms, from either instance', async () => {
    const live = await post(instances.a, '/v1/messages', messages(4000));
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 5);
    const closed = new Promise<number>((resolve) =>
      instances.sim.once('close', (record: { closedAt?: number }) => resolve(record.closedAt!)),
    );
    const sentAt = performance.now();
    const deleted = await fetch(`${instances.b}/v1/streams/${id}`, { method: 'DELETE', headers: auth() });
    expect(deleted.status).toBe(202);
    const closedAt = await closed;
    const latency = closedAt - sentAt;
    console.log(`DELETE → upstream closed (${store}): ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(100);
    // The client still reading is told why its answer ended.
    expect(await reader.all()).toMatch(/event: error\ndata: .*The answer was stopped: cancelled/);
    const status = (await (
      await resume(instances.a, id, { headers: { accept: 'application/json' } })
    ).json()) as { status: string; error: { message: string } };
    expect(status.status).toBe('failed');
    expect(status.error.message).toMatch(/cancelled/);
  });

  it('detaches: the answer runs on after its client leaves, and a reader reattaching gets all of it', async () => {
    const live = await post(instances.a, '/v1/messages', messages(300));
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    await reader.cancel();
    const rest = await (await resume(instances.b, id, { after: 0 })).text();
    expect(rest).toMatch(/event: message_stop/);
    const status = (await (
      await resume(instances.a, id, { headers: { accept: 'application/json' } })
    ).json()) as { status: string };
    expect(status.status).toBe('finished');
  });
});

/** Telemetry that keeps each request's last usage and status, and says when one finishes. */
function recordingTelemetry() {
  const finished: { status: number; usage: Usage | undefined }[] = [];
  let onFinish: (() => void) | undefined;
  const telemetry: Telemetry = {
    start(): RequestTelemetry {
      let usage: Usage | undefined;
      return {
        model() {},
        firstToken() {},
        retry() {},
        usage(value) {
          usage = value;
        },
        finish(status) {
          finished.push({ status, usage });
          onFinish?.();
        },
      };
    },
  };
  const nextFinish = () => new Promise<void>((resolve) => (onFinish = resolve));
  return { telemetry, finished, nextFinish };
}

describe('the log lines of /v1/streams', () => {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const telemetry = createTelemetry({ logger: createLogger({ destination }) });
  const instances = useInstances('memory', { telemetry });
  const streamLines = () =>
    raw
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.route === STREAM_PATH);

  it("writes one line per resume, status, cancel and refusal, with the stream's model and never its token", async () => {
    const live = await post(instances.a, '/v1/messages', messages(10));
    const [id, token] = [live.headers.get('sluice-stream-id')!, live.headers.get('sluice-resume-token')!];
    await live.text();
    await (await fetch(`${instances.a}/v1/streams/${id}?after=0&token=${token}`)).text();
    await (await resume(instances.a, id, { headers: { accept: 'application/json' } })).json();
    await fetch(`${instances.a}/v1/streams/${id}`, { method: 'DELETE', headers: auth() });
    await (await fetch(`${instances.a}/v1/streams/${id}?token=${token}x`)).text();
    expect(streamLines().map((line) => [line.status, line.streaming, line.model])).toEqual([
      [200, true, 'upstream:default'],
      [200, false, 'upstream:default'],
      [204, false, 'upstream:default'],
      [404, true, 'unknown'],
    ]);
    expect(raw.join('\n')).not.toContain(token);
  });
});

/** A memory log whose appends take a while, as Redis's do: it says what is logged so far. */
class SlowLog extends MemoryStreamLog {
  loggedLast = 0;
  // A log across the network has no synchronous append: every batch waits for `append`.
  override readonly appendNow = undefined as unknown as MemoryStreamLog['appendNow'];
  override async append(lease: Lease, entry: LogEntry) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const result = await super.append(lease, entry);
    this.loggedLast = Math.max(this.loggedLast, entry.last);
    return result;
  }
}

/** A gateway in front of `sim`, its answers logged to `log`. */
function gatewayOver(sim: Simulator, log: StreamLog): FastifyInstance {
  return createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }) },
    }),
    apiKeys: [KEY],
    pingIntervalMs: 0,
    streamLog: log,
  });
}

describe('a slow log', () => {
  it('holds each batch back from the client until it is logged: a client never has an event a takeover lacks', async () => {
    const sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 400 } });
    const log = new SlowLog();
    const app = gatewayOver(sim, log);
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const response = await post(url, '/v1/messages', messages(60));
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const ahead: number[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        const received = eventIds(text).at(-1) ?? 0;
        if (received > log.loggedLast) ahead.push(received - log.loggedLast);
      }
      expect(text).toMatch(/event: message_stop/);
      expect(ahead).toEqual([]);
    } finally {
      await app.close();
      await sim.close();
    }
  });
});

describe("a stream's attempts", () => {
  it('records where the gateway resumed the upstream within the stream, and why, in its status', async () => {
    // The first upstream request drops after 8 events; the resume is clean.
    const sim = await Simulator.start({
      pacing: { ttftMs: 0, tokensPerSecond: 2000 },
      faults: [{ dropAfterEvents: 8 }, {}],
    });
    const app = gatewayOver(sim, new MemoryStreamLog());
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const live = await post(url, '/v1/messages', messages(40));
      const id = live.headers.get('sluice-stream-id')!;
      expect(await live.text()).toMatch(/event: message_stop/);
      const status = (await (await resume(url, id, { headers: { accept: 'application/json' } })).json()) as {
        last_event_id: number;
        attempts: { kind: string; model: string; reason: string; owner: string; after: number }[];
      };
      expect(status.attempts).toHaveLength(1);
      // After which event the resumed upstream's output follows: inside the answer, not at its ends.
      expect(status.attempts[0]!.after).toBeGreaterThan(1);
      expect(status.attempts[0]!.after).toBeLessThan(status.last_event_id);
      expect(status.attempts[0]).toMatchObject({ model: 'upstream:default', reason: 'connection' });
      expect(['resume', 'restart']).toContain(status.attempts[0]!.kind);
      expect(status.attempts[0]!.owner).toMatch(/^gw_/);
    } finally {
      await app.close();
      await sim.close();
    }
  });
});

describe("a stream's fallbacks", () => {
  it("records a fallback to the next model in the status, with the first one's error", async () => {
    const sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 2000 } });
    const app = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: {
          upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }),
          // No such path on the simulator: an error status before any byte, so the next model is tried.
          refusing: createAnthropicProvider({ apiKey: 'sk-wrong', baseURL: `${sim.url}/nothing-here` }),
        },
      }),
      fallbacks: { 'refusing:default': ['upstream:default'] },
      apiKeys: [KEY],
      pingIntervalMs: 0,
      streamLog: new MemoryStreamLog(),
    });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const live = await post(url, '/v1/messages', { ...messages(20), model: 'refusing:default' });
      const id = live.headers.get('sluice-stream-id')!;
      expect(await live.text()).toMatch(/event: message_stop/);
      const status = (await (await resume(url, id, { headers: { accept: 'application/json' } })).json()) as {
        attempts: { kind: string; model: string; reason: string }[];
      };
      expect(status.attempts).toEqual([
        expect.objectContaining({ kind: 'fallback', model: 'upstream:default', reason: expect.any(String) }),
      ]);
    } finally {
      await app.close();
      await sim.close();
    }
  });
});

describe('a keyless gateway', () => {
  const instances = useInstances('memory', { apiKeys: [] });

  it('resumes without a key or with its token, and refuses a wrong token as an unknown stream', async () => {
    const live = await fetch(`${instances.a}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messages(10)),
    });
    const [id, token] = [live.headers.get('sluice-stream-id')!, live.headers.get('sluice-resume-token')!];
    const whole = await live.text();
    const plain = await fetch(`${instances.a}/v1/streams/${id}?after=0`);
    expect(await plain.text()).toBe(whole.slice(whole.indexOf('id: 1\n')));
    expect((await fetch(`${instances.a}/v1/streams/${id}?after=0&token=${token}`)).status).toBe(200);
    const wrong = await fetch(`${instances.a}/v1/streams/${id}?after=0&token=${token.slice(1)}`);
    expect(wrong.status).toBe(404);
    expect(await wrong.text()).not.toContain(token.slice(1));
  });
});

/**
 * A 600-token answer started on `on`, whose client leaves after 3 events; a reader then
 * resumes it through `through` after event 3: what the first client kept, what the reader
 * got, and how long it read.
 */
async function leaveThenResume(on: string, through: string) {
  const live = await post(on, '/v1/messages', messages(600));
  const id = live.headers.get('sluice-stream-id')!;
  const reader = new BodyReader(live);
  await reader.until((text) => sseEvents(text).length >= 3);
  const kept = sseEvents(reader.text).slice(0, 3).join('');
  await reader.cancel();
  const startedAt = performance.now();
  const rest = await (await resume(through, id, { after: 3 })).text();
  return { kept, rest, readMs: performance.now() - startedAt };
}

describe('the detach grace', () => {
  const GRACE = 300;
  const recorded = recordingTelemetry();
  const instances = useInstances('memory', {
    streams: { detachGraceMs: GRACE, onDisconnect: 'detach' },
    telemetry: recorded.telemetry,
  });

  it('aborts an answer nobody reads once the grace has passed, and records its usage', async () => {
    const live = await post(instances.a, '/v1/messages', messages(4000));
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 5);
    const closed = new Promise<number>((resolve) =>
      instances.sim.once('close', (record: { closedAt?: number }) => resolve(record.closedAt!)),
    );
    const finished = recorded.nextFinish();
    const leftAt = performance.now();
    await reader.cancel();
    const closedAt = await closed;
    // Not at once (that would be `abort`), and not much after the grace either.
    expect(closedAt - leftAt).toBeGreaterThanOrEqual(GRACE - 5);
    expect(closedAt - leftAt).toBeLessThan(GRACE + 2000);
    expect(instances.sim.requests.at(-1)?.completed).toBe(false);
    await finished;
    const last = recorded.finished.at(-1)!;
    expect(last.status).toBe(499);
    expect(last.usage?.output_tokens).toBeGreaterThan(0);
    const status = (await (
      await resume(instances.a, id, { headers: { accept: 'application/json' } })
    ).json()) as {
      status: string;
      usage: Usage;
    };
    expect(status.status).toBe('failed');
    expect(status.usage.output_tokens).toBeGreaterThan(0);
  });

  it('keeps an answer alive past the grace while a reader that reattached reads it', async () => {
    const { kept, rest, readMs } = await leaveThenResume(instances.a, instances.a);
    // 600 tokens at 400 a second: the reader was there well past the grace.
    expect(readMs).toBeGreaterThan(GRACE);
    expect(rest).toMatch(/event: message_stop/);
    const ids = eventIds(kept + rest);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });
});

describe('the detach grace, with the reader on another instance', () => {
  const GRACE = 300;
  const instances = useInstances('redis', { streams: { detachGraceMs: GRACE, onDisconnect: 'detach' } });

  it('keeps the answer alive on A while a reader on B reads it, past the grace', async () => {
    // A has no reader of its own once its client left: only B's notes in the log keep it generating.
    const { kept, rest, readMs } = await leaveThenResume(instances.a, instances.b);
    expect(readMs).toBeGreaterThan(GRACE);
    expect(rest).not.toMatch(/event: error/);
    expect(rest).toMatch(/event: message_stop/);
    const ids = eventIds(kept + rest);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(instances.sim.requests.at(-1)?.completed).toBe(true);
  });
});

describe('onDisconnect: "abort"', () => {
  const instances = useInstances('memory', { streams: { detachGraceMs: 30_000, onDisconnect: 'abort' } });

  it('aborts the upstream call within 100 ms of the client leaving, as before durable streams', async () => {
    const live = await post(instances.a, '/v1/messages', messages(4000));
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    const closed = new Promise<number>((resolve) =>
      instances.sim.once('close', (record: { closedAt?: number }) => resolve(record.closedAt!)),
    );
    const leftAt = performance.now();
    await reader.cancel();
    expect((await closed) - leftAt).toBeLessThan(100);
  });
});

describe('shutdown with the memory store', () => {
  it('lets a detached generation run until the grace period ends, then ends it with the retryable overloaded_error', async () => {
    const env = { SLUICE_SIM_TTFT_MS: '0', SLUICE_SIM_TPS: '200' };
    const { config } = loadConfig({ env, overrides: { port: 0 } });
    const recorded = recordingTelemetry();
    const gateway = await startGateway(config, { env, telemetry: recorded.telemetry });
    const live = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...messages(4000), model: 'sim:default' }),
    });
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    await reader.cancel();
    const GRACE = 300;
    const finished = recorded.nextFinish();
    const closingAt = performance.now();
    await gateway.close(GRACE);
    // Not closed as soon as the last connection went: the detached answer ran on for the grace.
    expect(performance.now() - closingAt).toBeGreaterThanOrEqual(GRACE - 5);
    await finished;
    expect(recorded.finished.at(-1)?.status).toBe(529);
  });
});

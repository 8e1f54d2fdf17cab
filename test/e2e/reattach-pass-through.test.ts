import type { Socket } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createServer } from '../../src/server/app.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';
import type { StreamAttempt, StreamInfo } from '../../src/server/streams/types.ts';
import { CuttingProxy } from '../helpers/cutting-proxy.ts';
import { anthropicText, eventIds, openAIText, sseEvents } from '../helpers/sse-reader.ts';

/**
 * Two gateways chained: simulator ← inner gateway ← cutting proxy ← outer gateway (pass-through
 * on, its provider the inner gateway) ← client. The proxy cuts the inner gateway's answer to
 * the outer one; the outer's pass-through must reattach to the inner's durable stream, so the
 * client gets the whole answer and the model is asked once.
 */

const INNER_KEY = 'sk-inner-gateway-key';
const OUTER_KEY = 'sk-outer-gateway-key';
const REQUEST = {
  model: 'inner:upstream:default',
  max_tokens: 120,
  stream: true,
  messages: [{ role: 'user', content: 'Write a long essay on rivers, in detail.' }],
};

/** A stream log on which every stream has already expired when it is asked for again. */
class ExpiredOnLookup extends MemoryStreamLog {
  override async lookup(_id: string): Promise<StreamInfo | undefined> {
    return undefined;
  }
}

function useChain(innerLog: () => MemoryStreamLog, policy: { idleTimeoutMs?: number } = {}) {
  const state = {} as { sim: Simulator; proxy: CuttingProxy; outer: string };
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    state.sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 600 } });
    const inner = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: state.sim.url }) },
      }),
      apiKeys: [INNER_KEY],
      pingIntervalMs: 0,
      streamLog: innerLog(),
      // The cut answer runs on at the inner gateway for its reattach.
      streams: { detachGraceMs: 30_000, onDisconnect: 'detach' },
    });
    apps.push(inner);
    state.proxy = new CuttingProxy();
    const proxied = await state.proxy.start(await inner.listen({ host: '127.0.0.1', port: 0 }));
    const outer = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { inner: createAnthropicProvider({ apiKey: INNER_KEY, baseURL: proxied }) },
      }),
      apiKeys: [OUTER_KEY],
      pingIntervalMs: 0,
      streamLog: new MemoryStreamLog(),
      passThrough: true,
      policy: { initialDelayMs: 1, maxDelayMs: 5, ...policy },
    });
    apps.push(outer);
    state.outer = await outer.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await state.proxy?.close();
    for (const app of apps.reverse()) await app.close();
    await state.sim?.close();
  });
  return state;
}

interface Answer {
  body: string;
  text: string;
  relay: string | null;
  attempts: StreamAttempt['kind'][];
  modelCalls: number;
}

async function ask(
  state: { sim: Simulator; outer: string },
  route: '/v1/messages' | '/v1/chat/completions' = '/v1/messages',
): Promise<Answer> {
  const before = modelCalls(state.sim);
  const auth = { 'x-api-key': OUTER_KEY, authorization: `Bearer ${OUTER_KEY}` };
  const response = await fetch(`${state.outer}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(REQUEST),
  });
  expect(response.status).toBe(200);
  const body = await response.text();
  const status = await fetch(`${state.outer}/v1/streams/${response.headers.get('sluice-stream-id')}`, {
    headers: { accept: 'application/json', ...auth },
  });
  const { attempts } = (await status.json()) as { attempts: StreamAttempt[] };
  return {
    body,
    text: route === '/v1/messages' ? anthropicText(body) : openAIText(body),
    relay: response.headers.get('sluice-relay'),
    attempts: attempts.map((attempt) => attempt.kind).filter((kind) => kind !== 'initial'),
    modelCalls: modelCalls(state.sim) - before,
  };
}

function modelCalls(sim: Simulator): number {
  return sim.requests.filter((request) => request.path === '/v1/messages').length;
}

/** One answer, as the client sees it: ids 1..n, one message_start, usage, message_stop at the end. */
function expectWhole(answer: Answer, reference: Answer): void {
  const ids = eventIds(answer.body);
  expect(ids).toEqual(ids.map((_, i) => i + 1));
  const types = sseEvents(answer.body).map((event) => /^event: (.*)$/m.exec(event)?.[1]);
  expect(types.filter((type) => type === 'message_start')).toHaveLength(1);
  expect(types.at(-1)).toBe('message_stop');
  expect(usageOf(answer.body)).toEqual(usageOf(reference.body));
}

/** The usage the message_delta reports. */
function usageOf(body: string): unknown {
  const delta = sseEvents(body).find((event) =>
    event.startsWith('event: message_delta', event.indexOf('\n') + 1),
  );
  return (JSON.parse(/^data: (.*)$/m.exec(delta ?? '')?.[1] ?? '{}') as { usage?: unknown }).usage;
}

describe('a gateway whose upstream is a Sluice gateway reattaches on the pass-through', () => {
  const state = useChain(() => new MemoryStreamLog());

  it('cut anywhere after the headers: the same text, from one model call, passed through', async () => {
    const reference = await ask(state);
    expect(reference.relay).toBe('pass-through');
    expect(reference.modelCalls).toBe(1);
    expect(reference.attempts).toEqual([]);
    const { headerBytes, lastResponseBytes } = state.proxy;
    expect(lastResponseBytes).toBeGreaterThan(headerBytes + 100);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: headerBytes + 1, max: lastResponseBytes - 1 }), async (limit) => {
        state.proxy.cutNext(limit);
        const answer = await ask(state);
        expect(answer.text).toBe(reference.text);
        expect(answer.modelCalls).toBe(1);
        expect(answer.relay).toBe('pass-through');
        expectWhole(answer, reference);
        // A cut in the last bytes may fall after message_stop (the chunked encoding's end) and lose nothing.
        if (limit < lastResponseBytes - 64) expect(answer.attempts).toEqual(['reattach']);
        else expect(answer.attempts.filter((kind) => kind !== 'reattach')).toEqual([]);
      }),
      { numRuns: 15, seed: 20261207 },
    );
  });

  it('a Chat Completions client gets the same text after a reattach', async () => {
    const reference = await ask(state, '/v1/chat/completions');
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const answer = await ask(state, '/v1/chat/completions');
    expect(answer.text).toBe(reference.text);
    expect(answer.modelCalls).toBe(1);
    expect(answer.relay).toBe('pass-through');
    expect(answer.attempts).toEqual(['reattach']);
  });

  it('reattaches that keep bringing nothing are bounded: then the full path resumes, still exact', async () => {
    const reference = await ask(state);
    // Every reattach's answer is cut before its first whole event (the chunk size line and a few bytes).
    state.proxy.cutGets(4, 8);
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const answer = await ask(state);
    state.proxy.cutGets(0, 0);
    expect(answer.attempts).toEqual(['reattach', 'reattach', 'reattach', 'resume']);
    expect(answer.modelCalls).toBe(2);
    expect(answer.text).toBe(reference.text);
    expect(answer.relay).toBe('pass-through');
  });
});

describe('a chained gateway that no longer has the stream', () => {
  const state = useChain(() => new ExpiredOnLookup());

  it('404 from /v1/streams falls back to the full path’s resume, and the answer is still exact', async () => {
    const reference = await ask(state);
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const answer = await ask(state);
    expect(answer.attempts).toEqual(['reattach', 'resume']);
    expect(answer.modelCalls).toBe(2);
    // The simulator answers a prefill with the rest of the same text.
    expect(answer.text).toBe(reference.text);
    expect(answer.relay).toBe('pass-through');
    const ids = eventIds(answer.body);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });
});

describe('a reattach that hangs', () => {
  const state = useChain(() => new MemoryStreamLog(), { idleTimeoutMs: 400 });

  it('is given up at the idle timeout (the request aborted), and the full path resumes', async () => {
    const reference = await ask(state);
    const held: Socket[] = [];
    state.proxy.onRequestAfterCut = (socket) => {
      held.push(socket);
      return true;
    };
    try {
      state.proxy.cutNext(state.proxy.bodyMiddle());
      const answer = await ask(state);
      expect(held).toHaveLength(1);
      // The held request was let go: its socket closed by the outer gateway.
      expect(held[0]!.destroyed || held[0]!.readableEnded).toBe(true);
      expect(answer.attempts).toEqual(['reattach', 'resume']);
      expect(answer.modelCalls).toBe(2);
      expect(answer.text).toBe(reference.text);
    } finally {
      state.proxy.onRequestAfterCut = undefined;
      for (const socket of held) socket.destroy();
    }
  });
});

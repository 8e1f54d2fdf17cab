import type { Socket } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { AbortError } from '../../src/protocol/errors.ts';
import type { Usage } from '../../src/protocol/message.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createServer } from '../../src/server/app.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';
import type { StreamInfo } from '../../src/server/streams/types.ts';
import type { RetryInfo } from '../../src/stream/message-stream.ts';
import { CuttingProxy } from '../helpers/cutting-proxy.ts';

const KEY = 'sk-reattach-test-key';
const PROMPT = 'Write a long essay on rivers, in detail.';
const MAX_TOKENS = 120;

/** A stream log on which every stream has already expired when it is asked for again. */
class ExpiredOnLookup extends MemoryStreamLog {
  override async lookup(_id: string): Promise<StreamInfo | undefined> {
    return undefined;
  }
}

function useGateway(log: () => MemoryStreamLog) {
  const state = {} as { sim: Simulator; proxy: CuttingProxy; url: string };
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    state.sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 600 } });
    app = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: state.sim.url }) },
      }),
      apiKeys: [KEY],
      pingIntervalMs: 0,
      streamLog: log(),
      // The cut client's answer runs on for its reattach.
      streams: { detachGraceMs: 30_000, onDisconnect: 'detach' },
    });
    const gateway = await app.listen({ host: '127.0.0.1', port: 0 });
    state.proxy = new CuttingProxy();
    state.url = await state.proxy.start(gateway);
  });
  afterAll(async () => {
    await state.proxy?.close();
    await app?.close();
    await state.sim?.close();
  });
  return state;
}

interface Outcome {
  text: string;
  usage: Usage;
  retries: RetryInfo[];
  modelCalls: number;
}

async function ask(
  state: { sim: Simulator; url: string },
  options: { reattach?: boolean; signal?: AbortSignal; fetch?: typeof fetch } = {},
): Promise<Outcome> {
  const provider = createAnthropicProvider({
    apiKey: KEY,
    baseURL: state.url,
    reattach: options.reattach,
    fetch: options.fetch,
  });
  const client = new Client('gateway:upstream:default', {
    provider,
    maxTokens: MAX_TOKENS,
    policy: { initialDelayMs: 1, maxDelayMs: 5 },
  });
  const before = modelCalls(state.sim);
  const retries: RetryInfo[] = [];
  const stream = client.stream(PROMPT, { signal: options.signal });
  stream.on('retry', (info) => retries.push(info));
  const message = await stream.finalMessage();
  const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
  return { text, usage: message.usage, retries, modelCalls: modelCalls(state.sim) - before };
}

function modelCalls(sim: Simulator): number {
  return sim.requests.filter((request) => request.path === '/v1/messages').length;
}

describe('a Client whose upstream is a Sluice gateway reattaches to a dropped stream', () => {
  const state = useGateway(() => new MemoryStreamLog());

  it('cut anywhere after the headers: the same text and usage, from one model call', async () => {
    const reference = await ask(state);
    expect(reference.modelCalls).toBe(1);
    expect(reference.retries).toEqual([]);
    const { headerBytes, lastResponseBytes } = state.proxy;
    expect(lastResponseBytes).toBeGreaterThan(headerBytes + 100);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: headerBytes + 1, max: lastResponseBytes - 1 }), async (limit) => {
        state.proxy.cutNext(limit);
        const outcome = await ask(state);
        expect(outcome.text).toBe(reference.text);
        expect(outcome.modelCalls).toBe(1);
        expect(outcome.usage).toEqual(reference.usage);
        // A cut in the last bytes may fall after message_stop's blank line (the chunked
        // encoding's end, whose offset moves by a byte or two with the ids), and lose nothing.
        const modes = outcome.retries.map((retry) => retry.mode);
        if (limit < lastResponseBytes - 64) expect(modes).toEqual(['reattach']);
        else expect(modes.filter((mode) => mode !== 'reattach')).toEqual([]);
      }),
      { numRuns: 10 },
    );
  });

  it('reports the reattach as an attempt', async () => {
    await ask(state);
    state.proxy.cutNext(
      state.proxy.headerBytes +
        Math.floor(((state.proxy.lastResponseBytes - state.proxy.headerBytes) * 2) / 3),
    );
    const outcome = await ask(state);
    expect(outcome.retries.map((retry) => [retry.mode, retry.attempt, retry.delayMs])).toEqual([
      ['reattach', 1, 0],
    ]);
    expect(outcome.modelCalls).toBe(1);
  });

  it("reattaches with a fetch of the caller's too", async () => {
    const reference = await ask(state, { fetch });
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const outcome = await ask(state, { fetch });
    expect(outcome.retries.map((retry) => retry.mode)).toEqual(['reattach']);
    expect(outcome.text).toBe(reference.text);
    expect(outcome.modelCalls).toBe(1);
  });

  it('without reattach, the same cut asks the model again (the test sees the difference)', async () => {
    await ask(state);
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const outcome = await ask(state, { reattach: false });
    expect(outcome.modelCalls).toBe(2);
    expect(outcome.retries.map((retry) => retry.mode)).toEqual(['resume']);
  });

  it('an abort while the reattach is pending ends the call at once', async () => {
    await ask(state);
    const controller = new AbortController();
    let held: Socket | undefined;
    state.proxy.onRequestAfterCut = (socket) => {
      held = socket;
      controller.abort();
      return true;
    };
    state.proxy.cutNext(state.proxy.bodyMiddle());
    try {
      const started = performance.now();
      const error = await ask(state, { signal: controller.signal }).catch((caught: unknown) => caught);
      expect(held).toBeDefined();
      expect(error).toBeInstanceOf(AbortError);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      state.proxy.onRequestAfterCut = undefined;
      held?.destroy();
    }
  });
});

describe('a gateway that no longer has the stream', () => {
  const state = useGateway(() => new ExpiredOnLookup());

  it('404 from /v1/streams falls back to the usual resume', async () => {
    const reference = await ask(state);
    state.proxy.cutNext(state.proxy.bodyMiddle());
    const outcome = await ask(state);
    expect(outcome.retries.map((retry) => retry.mode)).toEqual(['reattach', 'resume']);
    expect(outcome.modelCalls).toBe(2);
    // The simulator answers a prefill with the rest of the same text.
    expect(outcome.text).toBe(reference.text);
  });
});

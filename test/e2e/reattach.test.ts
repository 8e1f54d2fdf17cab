import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
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

const KEY = 'sk-reattach-test-key';
const PROMPT = 'Write a long essay on rivers, in detail.';
const MAX_TOKENS = 120;

/**
 * A TCP proxy in front of the gateway that cuts the response of the request it is armed for
 * after exactly `limit` bytes (headers included), as a network does: the client's socket is
 * ended mid-response and the gateway's side is destroyed. Armed per request, not per
 * connection, because the client's keep-alive pool reuses connections between calls.
 */
class CuttingProxy {
  private server: Server | undefined;
  private armed: number | undefined;
  private readonly sockets = new Set<Socket>();
  /** Called for every request seen after the cut, with its socket (the reattach). */
  onRequestAfterCut: ((client: Socket) => boolean) | undefined;
  /** The bytes of the last response that was not cut: how long an answer is on the wire. */
  lastResponseBytes = 0;
  headerBytes = 0;

  async start(target: string): Promise<string> {
    const { hostname, port } = new URL(target);
    this.server = createTcpServer((client) => {
      const upstream = connect(Number(port), hostname);
      this.sockets.add(client).add(upstream);
      let limit: number | undefined;
      let sent = 0;
      let cut = false;
      let heldBack = false;
      let head = '';
      client.on('data', (chunk: Buffer) => {
        const method = /^[A-Z]+ /.exec(chunk.toString('latin1', 0, 8))?.[0];
        if (method !== undefined) {
          if (this.armed !== undefined && method === 'POST ') {
            limit = this.armed;
            this.armed = undefined;
            cut = false;
          } else if (method === 'GET ' && this.onRequestAfterCut?.(client)) {
            // Held: the request never reaches the gateway (a reattach that hangs).
            heldBack = true;
            return;
          }
          sent = 0;
          head = '';
        }
        if (!heldBack) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (cut || heldBack) return;
        if (head.length < 4096 && !head.includes('\r\n\r\n')) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end >= 0) this.headerBytes = end + 4;
        }
        if (limit !== undefined && sent + chunk.length >= limit) {
          client.end(chunk.subarray(0, limit - sent));
          upstream.destroy();
          cut = true;
          limit = undefined;
          return;
        }
        sent += chunk.length;
        this.lastResponseBytes = sent;
        client.write(chunk);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', () => {
        if (!cut) client.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('The proxy has no port.');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Half way through the last whole answer's body, in bytes from the start of its response. */
  bodyMiddle(): number {
    return this.headerBytes + Math.floor((this.lastResponseBytes - this.headerBytes) / 2);
  }

  /** The next request's response is cut after `limit` bytes. */
  cutNext(limit: number): void {
    this.armed = limit;
  }

  async close(): Promise<void> {
    // The client's keep-alive pool holds connections open: a proxy going away cuts them.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

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

import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { OverloadedError } from '../../src/protocol/errors.ts';
import type { CustomTool, MessageCreateParams } from '../../src/protocol/request.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING, type Pacing } from '../../src/providers/simulated/provider.ts';
import type { Provider } from '../../src/providers/types.ts';
import { createServer, gatewayContext } from '../../src/server/app.ts';
import type { GatewayContext } from '../../src/server/context.ts';
import type { RouteHandler } from '../../src/server/dispatcher.ts';
import {
  CHOOSE_ROUTE_TOOL,
  type ClassifierOptions,
  createRouter,
  DEFAULT_ROUTE,
  NOT_DEFINED,
  type RouteDefinition,
} from '../../src/server/router.ts';
import { detachedModelCall } from '../../src/server/routes/model-call.ts';
import { CLASSIFYING, type StreamingChatLogEntry } from '../../src/server/routes/streaming-chat.ts';

const KEY = 'sk-streaming-chat-test';
const FALLBACK = 'Sorry, I only answer billing and tech questions.';
const ALIASES = { fast: 'sim:default' };

const BILLING: RouteDefinition = {
  name: 'billing',
  description: 'Invoices, refunds and payments.',
  keywords: ['invoice', 'money back'],
  model: 'fast',
  system: 'You are the billing desk.',
};
const TECH: RouteDefinition = {
  name: 'tech',
  description: 'Crashes and error codes.',
  patterns: ['\\berror\\s+\\d+'],
  system: 'You are tech support.',
  maxTokens: 12,
};

function simRegistry(
  pacing: Partial<Pacing> = NO_PACING,
  extra: Record<string, Provider> = {},
): ProviderRegistry {
  return new ProviderRegistry({ env: {}, providers: { sim: createSimulatedProvider({ pacing }), ...extra } });
}

function contextFor(registry: ProviderRegistry, shutdown = new AbortController().signal): GatewayContext {
  return gatewayContext({
    registry,
    apiKeys: [KEY],
    aliases: ALIASES,
    policy: { initialDelayMs: 1, maxDelayMs: 2 },
    pingIntervalMs: 0,
    shutdown,
  });
}

interface GatewaySetup {
  routes: RouteDefinition[];
  classifier?: ClassifierOptions;
  handlers?: Record<string, RouteHandler>;
  registry?: ProviderRegistry;
  shutdown?: AbortSignal;
  streams?: { detachGraceMs: number; onDisconnect: 'detach' | 'abort' };
}

/** A real gateway on 127.0.0.1 with /streaming_chat configured as given, for one describe. */
function useGateway(setup: GatewaySetup): { readonly url: string; readonly logs: StreamingChatLogEntry[] } {
  let app: FastifyInstance | undefined;
  let url = '';
  const logs: StreamingChatLogEntry[] = [];
  beforeAll(async () => {
    app = createServer({
      registry: setup.registry ?? simRegistry(),
      apiKeys: [KEY],
      aliases: ALIASES,
      policy: { initialDelayMs: 1, maxDelayMs: 2 },
      pingIntervalMs: 0,
      shutdown: setup.shutdown,
      streams: setup.streams,
      routes: {
        classifier: setup.classifier ?? { type: 'rules' },
        fallbackText: FALLBACK,
        routes: setup.routes,
      },
      handlers: setup.handlers,
      log: (entry) => logs.push(entry),
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });
  return {
    get url() {
      return url;
    },
    logs,
  };
}

async function chat(url: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) {
  const response = await fetch(`${url}/streaming_chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** What the simulated model answers a route's request: deterministic, so the gateway must send exactly this. */
async function directAnswer(request: string, route: Pick<RouteDefinition, 'system' | 'maxTokens'> = {}) {
  const client = new Client('sim:default', { registry: simRegistry() });
  return textOf(await client.create(request, { system: route.system, maxTokens: route.maxTokens ?? 1024 }));
}

function expectNoStack(entry: StreamingChatLogEntry | undefined): void {
  expect(entry).toBeDefined();
  const json = JSON.stringify(entry);
  expect(json).not.toMatch(/\bat .*\.ts:\d+|\n\s+at /);
  expect(Object.keys(entry!).sort()).toEqual(['error', 'level', 'route']);
}

describe('POST /streaming_chat: the request body', () => {
  const gateway = useGateway({ routes: [BILLING] });

  it('refuses an empty or blank request with a 400 that says so', async () => {
    for (const request of ['', '  \n\t ']) {
      const response = await chat(gateway.url, { request });
      expect(response.status).toBe(400);
      expect(JSON.parse(response.text)).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining('request cannot be empty') },
      });
    }
  });

  it('names the field when it is missing or not a string', async () => {
    for (const body of [{}, { request: 42 }, { prompt: 'hi' }]) {
      const response = await chat(gateway.url, body);
      expect(response.status).toBe(400);
      const error = JSON.parse(response.text).error;
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toMatch(/^request: /);
    }
  });

  it('refuses a body that is not JSON, and a missing key', async () => {
    const notJson = await chat(gateway.url, '{"request": "hi"');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.text).error.type).toBe('invalid_request_error');
    const notAnObject = await chat(gateway.url, '["hi"]');
    expect(notAnObject.status).toBe(400);
    expect(JSON.parse(notAnObject.text).error.message).toMatch(/must be a JSON object.*this one is an array/);
    const noKey = await chat(gateway.url, { request: 'hi' }, {});
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.text).error.type).toBe('authentication_error');
    expect(gateway.logs).toEqual([]);
  });
});

describe('POST /streaming_chat with the rules classifier', () => {
  const gateway = useGateway({ routes: [BILLING, TECH] });

  it("streams a keyword's route: its model (an alias) with its system prompt", async () => {
    const request = 'Where is my INVOICE for March?';
    const response = await chat(gateway.url, { request });
    expect(response.status).toBe(200);
    expect(response.headers.get('sluice-route')).toBe('billing');
    expect(response.text).toContain('It was also given a system prompt: “You are the billing desk.”');
    expect(response.text).toBe(await directAnswer(request, BILLING));
  });

  it('matches phrases as whole words with any spacing, and patterns case-insensitively', async () => {
    const phrase = await chat(gateway.url, { request: 'I want my Money\n  Back now' });
    expect(phrase.headers.get('sluice-route')).toBe('billing');
    const pattern = await chat(gateway.url, { request: 'The app says ERROR 42 on start' });
    expect(pattern.headers.get('sluice-route')).toBe('tech');
    // The route's maxTokens (12) cuts the answer where the model would.
    expect(pattern.text).toBe(await directAnswer('The app says ERROR 42 on start', TECH));
  });

  it('sends exactly the fallback text when no route matches (a keyword inside a longer word does not)', async () => {
    for (const request of ['Tell me a joke', 'My invoices are fine']) {
      const response = await chat(gateway.url, { request });
      expect(response.status).toBe(200);
      expect(response.headers.get('sluice-route')).toBe(NOT_DEFINED);
      expect(response.text).toBe(FALLBACK);
    }
  });
});

describe('POST /streaming_chat with no routes configured', () => {
  const gateway = useGateway({ routes: [] });

  it("answers every request with the default model's answer", async () => {
    const request = 'Tell me a joke';
    const response = await chat(gateway.url, { request });
    expect(response.status).toBe(200);
    expect(response.headers.get('sluice-route')).toBe(DEFAULT_ROUTE);
    expect(response.text).toBe(await directAnswer(request));
  });
});

describe('POST /streaming_chat streams as the model answers', () => {
  const gateway = useGateway({
    routes: [{ name: 'chat', keywords: ['hello'], maxTokens: 24 }],
    registry: simRegistry({ ttftMs: 0, tokensPerSecond: 100 }),
  });

  it('sends chunked text/plain, flushed chunk by chunk before the answer is complete', async () => {
    const response = await fetch(`${gateway.url}/streaming_chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ request: 'hello there' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    for await (const bytes of response.body!) chunks.push(decoder.decode(bytes, { stream: true }));
    const whole = chunks.join('');
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(whole.startsWith(chunks[0]!)).toBe(true);
    expect(chunks[0]!.length).toBeLessThan(whole.length);
    expect(whole).toBe(await directAnswer('hello there', { maxTokens: 24 }));
  });
});

describe('the llm classifier', () => {
  const gateway = useGateway({ routes: [BILLING, TECH], classifier: { type: 'llm', model: 'sim:default' } });

  it('picks the route the request names', async () => {
    const request = 'A tech question: my screen stays black';
    const response = await chat(gateway.url, { request });
    expect(response.status).toBe(200);
    expect(response.headers.get('sluice-route')).toBe('tech');
    expect(response.text).toBe(await directAnswer(request, TECH));
    const billing = await chat(gateway.url, { request: 'This is for Billing, I think' });
    expect(billing.headers.get('sluice-route')).toBe('billing');
  });

  it('sends the fallback text when the model answers NOT_DEFINED', async () => {
    const response = await chat(gateway.url, { request: 'Tell me a joke' });
    expect(response.headers.get('sluice-route')).toBe(NOT_DEFINED);
    expect(response.text).toBe(FALLBACK);
  });

  it('asks with a forced choose_route call: the names and NOT_DEFINED, routes described in the system prompt', async () => {
    const seen: MessageCreateParams[] = [];
    const sim = createSimulatedProvider({ pacing: NO_PACING });
    const recording: Provider = {
      ...sim,
      stream: (request, options) => {
        seen.push(request);
        return sim.stream(request, options);
      },
    };
    const registry = simRegistry(NO_PACING, { rec: recording });
    const router = createRouter(
      { classifier: { type: 'llm', model: 'rec:default' }, fallbackText: FALLBACK, routes: [BILLING, TECH] },
      { gateway: contextFor(registry), defaultModel: 'sim:default' },
    );
    expect(await router.classify('about tech', detachedModelCall(new AbortController().signal))).toBe('tech');
    const sent = seen[0]!;
    expect(sent.tool_choice).toEqual({ type: 'tool', name: CHOOSE_ROUTE_TOOL });
    expect(sent.tools?.[0]).toMatchObject({
      name: CHOOSE_ROUTE_TOOL,
      input_schema: {
        properties: { route: { enum: ['billing', 'tech', NOT_DEFINED] } },
        required: ['route'],
      },
    });
    expect(sent.messages).toEqual([{ role: 'user', content: 'about tech' }]);
    expect(sent.system).toContain(
      '- billing: Invoices, refunds and payments. (keywords: invoice, money back)',
    );
    expect(sent.system).toContain('- tech: Crashes and error codes.');
  });

  it('takes an answer outside the enum, and the default model when none is named, as NOT_DEFINED', async () => {
    const sim = createSimulatedProvider({ pacing: NO_PACING });
    // The model is offered only a name that is no route, and picks it.
    const offBook: Provider = {
      ...sim,
      stream: (request, options) => {
        const route = { type: 'string', enum: ['refunds'] };
        const tools = (request.tools as CustomTool[]).map((tool) => ({
          ...tool,
          input_schema: { ...tool.input_schema, properties: { route } },
        }));
        return sim.stream({ ...request, tools } as MessageCreateParams, options);
      },
    };
    const registry = simRegistry(NO_PACING, { off: offBook });
    const router = createRouter(
      { classifier: { type: 'llm' }, fallbackText: FALLBACK, routes: [BILLING] },
      { gateway: contextFor(registry), defaultModel: 'off:default' },
    );
    expect(await router.classify('billing please', detachedModelCall(new AbortController().signal))).toBe(
      NOT_DEFINED,
    );
  });
});

describe('POST /streaming_chat when things fail', () => {
  const customFallback = async function* () {
    yield 'A custom fallback.';
  };
  const gateway = useGateway({
    routes: [
      { name: 'broken', keywords: ['broken'], model: 'nowhere:model' },
      { name: 'throws', keywords: ['throws'] },
      { name: 'midway', keywords: ['midway'] },
      { name: 'crash', keywords: ['crash'] },
    ],
    handlers: {
      throws: async function* () {
        await Promise.reject(new Error('database password rejected at db.internal:5432'));
        yield 'never sent';
      },
      midway: async function* () {
        yield 'The first part, ';
        yield 'then ';
        throw new OverloadedError('The upstream is overloaded.');
      },
      // A non-Sluice error after the first chunk: the caller sees only a generic message.
      crash: async function* () {
        yield 'Partial answer';
        throw new TypeError('Cannot read properties of undefined');
      },
      [NOT_DEFINED]: customFallback,
    },
  });

  it("is the error's status and JSON body before the first chunk (a route's unknown provider), and a log line", async () => {
    const response = await chat(gateway.url, { request: 'this is broken' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(response.text);
    expect(body.error).toEqual({ type: 'not_found_error', message: expect.stringContaining("'nowhere'") });
    const entry = gateway.logs.find((log) => log.route === 'broken');
    expectNoStack(entry);
    expect(entry).toEqual({ level: 'error', route: 'broken', error: body.error });
  });

  it("is a 500 that does not leak the handler's message when it throws at once; the log has it", async () => {
    const response = await chat(gateway.url, { request: 'it throws' });
    expect(response.status).toBe(500);
    const body = JSON.parse(response.text);
    expect(body.error.type).toBe('api_error');
    expect(response.text).not.toContain('password');
    const entry = gateway.logs.find((log) => log.route === 'throws');
    expectNoStack(entry);
    expect(entry?.error).toEqual({
      type: 'api_error',
      message: 'database password rejected at db.internal:5432',
    });
  });

  it('ends the stream with a marker line after the first chunk, and logs it', async () => {
    const response = await chat(gateway.url, { request: 'fails midway' });
    expect(response.status).toBe(200);
    expect(response.text).toBe(
      'The first part, then \n[error: overloaded_error: The upstream is overloaded.]\n',
    );
    const entry = gateway.logs.find((log) => log.route === 'midway');
    expectNoStack(entry);
    expect(entry?.error).toEqual({ type: 'overloaded_error', message: 'The upstream is overloaded.' });

    const crash = await chat(gateway.url, { request: 'crash' });
    expect(crash.text).toMatch(/^Partial answer\n\[error: api_error: [^\n]+\]\n$/);
    expect(crash.text).not.toContain('Cannot read');
    expectNoStack(gateway.logs.find((log) => log.route === 'crash'));
  });

  it('uses a custom NOT_DEFINED handler when one is registered', async () => {
    const response = await chat(gateway.url, { request: 'nothing matches' });
    expect(response.text).toBe('A custom fallback.');
  });
});

describe('POST /streaming_chat when the classifier fails', () => {
  const gateway = useGateway({ routes: [BILLING], classifier: { type: 'llm', model: 'nowhere:model' } });

  it("is the error's JSON before any chunk, logged as the classifier's", async () => {
    const response = await chat(gateway.url, { request: 'billing' });
    expect(response.status).toBe(404);
    expect(gateway.logs).toEqual([
      { level: 'error', route: CLASSIFYING, error: JSON.parse(response.text).error },
    ]);
  });
});

describe('POST /streaming_chat when the client goes away', () => {
  let observedAbort!: () => void;
  const aborted = new Promise<void>((resolve) => {
    observedAbort = resolve;
  });
  let finished = false;
  let produced = 0;
  const MEGABYTE = 'x'.repeat(1024 * 1024);
  const FLOOD = 32;

  const gateway = useGateway({
    // Today's behaviour, kept by `streams.onDisconnect: "abort"` (the default detaches).
    streams: { detachGraceMs: 30_000, onDisconnect: 'abort' },
    routes: [
      { name: 'slow', keywords: ['slow'] },
      { name: 'flood', keywords: ['flood'] },
    ],
    handlers: {
      slow: async function* (_request, { signal }) {
        try {
          yield 'first chunk';
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          observedAbort();
          yield 'never sent';
        } finally {
          finished = true;
        }
      },
      flood: async function* () {
        for (produced = 0; produced < FLOOD; produced++) yield MEGABYTE;
      },
    },
  });

  it("aborts the handler's signal mid-stream, ends the handler, and logs nothing", async () => {
    const { response, close } = await open(gateway.url, 'slow please');
    const first = await nextChunk(response);
    expect(first).toBe('first chunk');
    close();
    await aborted;
    await until(() => finished);
    expect(gateway.logs).toEqual([]);
  });

  it('stops the handler while the client does not read, and resumes when it does', async () => {
    const { response } = await open(gateway.url, 'flood');
    response.pause();
    // Give the handler every chance to run ahead; the socket buffers hold a few MB at most.
    await until(() => produced > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(produced).toBeLessThan(FLOOD);
    let bytes = 0;
    response.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    response.resume();
    await new Promise((resolve) => response.on('end', resolve));
    expect(bytes).toBe(FLOOD * MEGABYTE.length);
  });
});

describe('POST /streaming_chat on shutdown', () => {
  const shutdown = new AbortController();
  const gateway = useGateway({
    routes: [{ name: 'slow', keywords: ['slow'] }],
    handlers: {
      // Stops quietly when aborted, as a handler may: the route still reports the cut.
      slow: async function* (_request, { signal }) {
        yield 'first chunk';
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      },
    },
    shutdown: shutdown.signal,
  });

  it('ends a stream in flight with the reason as its marker line', async () => {
    const { response } = await open(gateway.url, 'slow please');
    expect(await nextChunk(response)).toBe('first chunk');
    const rest: string[] = [];
    response.on('data', (chunk: Buffer) => rest.push(chunk.toString('utf8')));
    const ended = new Promise((resolve) => response.on('end', resolve));
    shutdown.abort(new OverloadedError('The gateway is shutting down; retry the request.'));
    await ended;
    expect(rest.join('')).toBe(
      '\n[error: overloaded_error: The gateway is shutting down; retry the request.]\n',
    );
    expect(gateway.logs).toEqual([
      {
        level: 'error',
        route: 'slow',
        error: { type: 'overloaded_error', message: 'The gateway is shutting down; retry the request.' },
      },
    ]);
  });
});

async function open(url: string, request: string): Promise<{ response: IncomingMessage; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/streaming_chat`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY } },
      (response) => resolve({ response, close: () => req.destroy() }),
    );
    req.on('error', () => {});
    req.once('error', reject);
    req.end(JSON.stringify({ request }));
  });
}

function nextChunk(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => response.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

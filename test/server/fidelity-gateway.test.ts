import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { createOpenAIProvider } from '../../src/providers/openai/provider.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { fixture } from '../helpers/bytes.ts';

// The gateway between the official SDK and an Anthropic upstream that answers with the
// fixture transcripts: what the SDK ends with must not depend on the gateway being there,
// and what the SDK sent must reach the upstream as it was sent.

const KEY = 'sk-gateway-fidelity-key';
const FIXTURES = [
  'thinking.sse',
  'thinking-tool-use.sse',
  'web-search.sse',
  'code-execution.sse',
  'citations.sse',
  'refusal.sse',
  'context-window.sse',
  'future-types.sse',
];

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

let upstream: Server;
let upstreamUrl: string;
const received: Received[] = [];
/** Requests per model name, for upstream models that drop their first answer. */
const calls = new Map<string, number>();

let gateway: FastifyInstance;
let gatewayUrl: string;

/**
 * The upstream: the model name picks the transcript (`web-search.sse`); `drop-<bytes>-<run>-<name>`
 * cuts the first answer after that many bytes and answers whole after.
 */
beforeAll(async () => {
  upstream = createHttpServer((request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      received.push({ path: request.url ?? '', headers: request.headers, body });
      if (request.url === '/v1/messages/count_tokens') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"input_tokens":1234}');
        return;
      }
      const model = String(body.model);
      const drop = /^drop-(\d+)-\w+-(.+)$/.exec(model);
      const bytes = fixture(drop ? drop[2]! : model);
      const call = (calls.get(model) ?? 0) + 1;
      calls.set(model, call);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (drop && call === 1) response.write(bytes.subarray(0, Number(drop[1])), () => response.destroy());
      else response.end(bytes);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const registry = new ProviderRegistry({
    env: {},
    providers: {
      sim: createSimulatedProvider({ pacing: NO_PACING }),
      up: createAnthropicProvider({ apiKey: 'sk-upstream-key', baseURL: upstreamUrl }),
      oai: createOpenAIProvider({ apiKey: 'sk-openai', baseURL: `${upstreamUrl}/v1` }),
    },
  });
  gateway = createServer({ registry, apiKeys: [KEY], policy: { initialDelayMs: 1, maxDelayMs: 2 } });
  gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => upstream.close(resolve));
});

const viaGateway = () => new Anthropic({ baseURL: gatewayUrl, apiKey: KEY, maxRetries: 0 });
const direct = () => new Anthropic({ baseURL: upstreamUrl, apiKey: 'sk-upstream-key', maxRetries: 0 });

function ask(model: string) {
  return { model, max_tokens: 1024, messages: [{ role: 'user' as const, content: 'hi' }] };
}

/** The raw SSE the gateway sends for a model, parsed into its events' data. */
async function gatewayEvents(model: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${gatewayUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify({ ...ask(model), stream: true }),
  });
  expect(response.status).toBe(200);
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

describe('responses come back unchanged', () => {
  it.each(FIXTURES)(
    "%s: the SDK's final message is the same through the gateway as from the upstream",
    async (name) => {
      const expected = await direct().messages.stream(ask(name)).finalMessage();
      const streamed = await viaGateway()
        .messages.stream(ask(`up:${name}`))
        .finalMessage();
      expect(streamed).toEqual(expected);
      // Not streamed: the message as Sluice assembles the upstream's stream, which is the SDK's
      // plus what the SDK drops (message_delta fields of unknown kinds).
      const whole = await viaGateway().messages.create(ask(`up:${name}`));
      const response = await fetch(`${upstreamUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...ask(name), stream: true }),
      });
      const assembled = JSON.parse(JSON.stringify(await MessageStream.fromResponse(response).finalMessage()));
      expect(whole).toEqual(assembled);
      expect(whole).toMatchObject(JSON.parse(JSON.stringify({ ...expected, parsed_output: undefined })));
    },
  );

  it('events, deltas and message_delta fields of unknown kinds pass through the durable relay unchanged', async () => {
    const events = await gatewayEvents('up:future-types.sse');
    expect(events).toContainEqual({ type: 'future_progress', progress: { phase: 'planning', percent: 10 } });
    expect(events).toContainEqual({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'future_widget_delta', rows: [['a', 'b']] },
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'message_delta',
        delta: expect.objectContaining({ future_outcome: { grade: 'A' } }),
      }),
    );
  });

  it('and through a resume: each unknown event once, the same final message', async () => {
    const bytes = new TextDecoder().decode(fixture('future-types.sse'));
    // Cut inside the text block, after the unknown event and the unknown block were relayed.
    const cut = Buffer.byteLength(bytes.slice(0, bytes.indexOf('Done.')));
    const model = `drop-${cut}-resume-future-types.sse`;
    const events = await gatewayEvents(`up:${model}`);
    expect(calls.get(model)).toBe(2);
    expect(events.filter((event) => event.type === 'future_progress')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'message_start')).toHaveLength(1);
    const expected = await direct().messages.stream(ask('future-types.sse')).finalMessage();
    const resumed = await viaGateway()
      .messages.stream(ask(`up:drop-${cut}-sdk-future-types.sse`))
      .finalMessage();
    expect(resumed.content).toEqual(expected.content);
    expect(resumed.stop_reason).toBe('end_turn');
  });
});

const fields = {
  system: [
    { type: 'text' as const, text: 'Be brief.', cache_control: { type: 'ephemeral' as const, ttl: '1h' } },
  ],
  thinking: { type: 'enabled' as const, budget_tokens: 2048 },
  tools: [
    { type: 'web_search_20250305', name: 'web_search', max_uses: 3, allowed_domains: ['example.com'] },
    { type: 'code_execution_20250825', name: 'code_execution' },
    {
      name: 'get_weather',
      description: 'The weather.',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
      cache_control: { type: 'ephemeral' as const },
    },
  ],
  metadata: { user_id: 'user-7' },
  service_tier: 'standard_only',
  container: 'container_011CPR5CNjB747bTd36fQLFk',
  cache_control: { type: 'ephemeral' },
  future_option: { anything: [1, 2] },
};
const messages = [
  {
    role: 'user' as const,
    content: [{ type: 'text' as const, text: 'weather?', cache_control: { type: 'ephemeral' as const } }],
  },
  {
    role: 'assistant' as const,
    content: [
      { type: 'thinking' as const, thinking: 'Let me look.', signature: 'EuYBCkQYAiJA' },
      { type: 'redacted_thinking' as const, data: 'EmwKAhgBEgy3va3pzix' },
      {
        type: 'server_tool_use' as const,
        id: 'srvtoolu_01',
        name: 'web_search',
        input: { query: 'weather' },
      },
      {
        type: 'web_search_tool_result' as const,
        tool_use_id: 'srvtoolu_01',
        content: [
          {
            type: 'web_search_result',
            url: 'https://example.com',
            title: 'Example',
            encrypted_content: 'Eq',
          },
        ],
      },
    ],
  },
  { role: 'user' as const, content: 'go on' },
];

describe('requests reach the upstream unchanged', () => {
  it('streaming: thinking, server tools, cache_control, metadata, service_tier, container, unknown fields and anthropic-beta', async () => {
    const before = received.length;
    const body = { model: 'up:web-search.sse', max_tokens: 4096, messages, ...fields };
    await viaGateway()
      .messages.stream(body as never, {
        headers: { 'anthropic-beta': 'web-fetch-2025-09-10,context-1m-2025-08-07' },
      })
      .finalMessage();
    const seen = received.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual({ ...body, model: 'web-search.sse', stream: true });
    expect(seen[0]!.headers['anthropic-beta']).toBe('web-fetch-2025-09-10,context-1m-2025-08-07');
  });

  it('adaptive thinking is accepted and passed on', async () => {
    const before = received.length;
    const body = { ...ask('up:thinking.sse'), thinking: { type: 'adaptive' } };
    await viaGateway().messages.create(body as never);
    expect(received.slice(before)[0]!.body).toEqual({ ...body, model: 'thinking.sse', stream: true });
  });
});

describe('POST /v1/messages/count_tokens', () => {
  it("an Anthropic upstream's count, the body and the betas passed on unchanged", async () => {
    const before = received.length;
    const body = { model: 'up:anything', messages, ...fields };
    const count = await viaGateway().messages.countTokens(body as never, {
      headers: { 'anthropic-beta': 'token-counting-2024-11-01' },
    });
    expect(count).toEqual({ input_tokens: 1234 });
    const seen = received.slice(before);
    expect(seen.map((request) => request.path)).toEqual(['/v1/messages/count_tokens']);
    expect(seen[0]!.body).toEqual({ ...body, model: 'anything' });
    expect(seen[0]!.headers['anthropic-beta']).toBe('token-counting-2024-11-01');
  });

  it("the simulated model's count is the input its answer bills", async () => {
    const request = {
      model: 'sim:default',
      system: 'You are terse.',
      messages: [{ role: 'user' as const, content: 'Count the tokens of this question, please.' }],
    };
    const count = await viaGateway().messages.countTokens(request);
    const answer = await viaGateway().messages.create({ ...request, max_tokens: 50 });
    expect(count.input_tokens).toBeGreaterThan(5);
    expect(count.input_tokens).toBe(answer.usage.input_tokens);
  });

  it('a provider that cannot count is a 400 that says which can; no key is a 401', async () => {
    const error = await viaGateway()
      .messages.countTokens({ model: 'oai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('cannot count tokens') },
    });
    const anonymous = await fetch(`${gatewayUrl}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim:default', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('Client.countTokens, against the gateway and in-process, agrees with the gateway', async () => {
    const question = 'How many tokens is this?';
    const throughGateway = new Client('gw:sim:default', {
      provider: createAnthropicProvider({ apiKey: KEY, baseURL: gatewayUrl }),
    });
    const inProcess = new Client('sim:default', { provider: createSimulatedProvider({ pacing: NO_PACING }) });
    const expected = (
      await viaGateway().messages.countTokens({
        model: 'sim:default',
        messages: [{ role: 'user', content: question }],
      })
    ).input_tokens;
    expect(await throughGateway.countTokens(question)).toBe(expected);
    expect(await inProcess.countTokens(question)).toBe(expected);
    expect(await inProcess.countTokens(question, { system: 'Answer in French.' })).toBeGreaterThan(expected);
    const noCount = new Client('oai:gpt-4o', {
      provider: createOpenAIProvider({ apiKey: 'x', baseURL: upstreamUrl }),
    });
    await expect(noCount.countTokens(question)).rejects.toMatchObject({ type: 'invalid_request_error' });
  });
});

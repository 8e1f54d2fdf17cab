import Anthropic from '@anthropic-ai/sdk';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Chat } from '../../src/client/chat.ts';
import { tool } from '../../src/client/tools.ts';
import { isBlock } from '../../src/protocol/content.ts';
import { isRefusal } from '../../src/protocol/message.ts';
import type { MessageCreateParams, MessageParam } from '../../src/protocol/request.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { REFUSAL_TRIGGER } from '../../src/providers/simulated/features.ts';
import { signThinking } from '../../src/providers/simulated/signatures.ts';
import { resilientMessageStream } from '../../src/resilience/resilient-stream.ts';
import { createServer } from '../../src/server/app.ts';
import { anthropicAt, script, useSimulator } from '../helpers/simulator.ts';

// Every path of the Messages API's newer shapes, end to end: Chat → Sluice's Anthropic
// provider → the gateway → its Anthropic provider → `sluice simulate`, which signs its
// thinking and checks every signature sent back, runs a web search that pauses the turn,
// and refuses on a trigger phrase.

const sim = useSimulator();
const KEY = 'sk-gateway-sim-fidelity';
let gateway: FastifyInstance;
let gatewayUrl: string;

beforeAll(async () => {
  const registry = new ProviderRegistry({
    env: {},
    providers: { up: createAnthropicProvider({ apiKey: 'sk-upstream', baseURL: sim.url }) },
  });
  gateway = createServer({ registry, apiKeys: [KEY], policy: { initialDelayMs: 1, maxDelayMs: 2 } });
  gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

const sums = tool({
  name: 'sums',
  description: 'Adds a + b.',
  input: z.object({ a: z.number().int(), b: z.number().int() }),
  run: ({ a, b }) => String(a + b),
});

function chatThroughGateway(options: ConstructorParameters<typeof Chat>[0] = {}) {
  return new Chat({
    model: 'gateway:up:default',
    provider: createAnthropicProvider({ apiKey: KEY, baseURL: gatewayUrl }),
    ...options,
  });
}

/** The requests the simulator received since `from`, as sent. */
function simulatorRequests(from: number): MessageCreateParams[] {
  return sim.simulator.requests
    .slice(from)
    .filter((record) => record.path === '/v1/messages')
    .map((record) => record.body as MessageCreateParams);
}

describe('thinking through the gateway', () => {
  it('a tool loop with thinking: signed by the simulator, sent back unchanged, checked on every turn', async () => {
    const from = sim.simulator.requests.length;
    const chat = chatThroughGateway({ tools: [sums] });
    const final = await chat.toolLoop('What is 604542+6458932? Use sums.', { thinking: 1024 });
    expect(final.stop_reason).toBe('end_turn');
    expect(JSON.stringify(final.content)).toContain('7063474');
    const first = chat.history[1]!;
    expect(first.role).toBe('assistant');
    const thinking = (first.content as MessageParam['content'] & object[])[0]!;
    expect(thinking).toMatchObject({ type: 'thinking' });
    if (!isBlock(thinking as never, 'thinking')) return;
    const block = thinking as { thinking: string; signature: string };
    expect(block.signature).toBe(signThinking(block.thinking));
    // The second turn sent the first one back exactly; the simulator accepted its signature.
    const sent = simulatorRequests(from);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.messages[1]).toEqual(first);
  });

  it('a changed signature is refused with the API’s 400, through the gateway', async () => {
    const chat = chatThroughGateway({ tools: [sums] });
    await chat.toolLoop('What is 2+3? Use sums.', { thinking: 1024 });
    const history = structuredClone(chat.history);
    const turn = history[1]!.content as { type: string; signature?: string }[];
    turn[0]!.signature = `${turn[0]!.signature}x`;
    const sdk = new Anthropic({ baseURL: gatewayUrl, apiKey: KEY, maxRetries: 0 });
    const error = await sdk.messages
      .create({
        model: 'up:default',
        max_tokens: 400,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [...history, { role: 'user', content: 'And now?' }] as never,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      error: {
        type: 'invalid_request_error',
        message: 'messages.1.content.0: Invalid `signature` in `thinking` block',
      },
    });
  });

  it('redacted thinking, on request, goes back sealed and is checked too', async () => {
    const chat = chatThroughGateway({ tools: [sums] });
    await chat.toolLoop('Keep it redacted: what is 7+8? Use sums.', { thinking: 1024 });
    const turn = chat.history[1]!.content as { type: string; data?: string }[];
    expect(turn.map((block) => block.type).slice(0, 2)).toEqual(['thinking', 'redacted_thinking']);
    const altered = structuredClone(chat.history);
    (altered[1]!.content as { data?: string }[])[1]!.data = 'ErTAMPERED000000000000000000000000';
    const response = await fetch(`${gatewayUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({
        model: 'up:default',
        max_tokens: 100,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [...altered, { role: 'user', content: 'go on' }],
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('Invalid `data` in `redacted_thinking` block');
  });

  it('a drop inside the thinking block of a simulated answer restarts and ends exact, signature intact', async () => {
    const request: MessageCreateParams = {
      model: 'default',
      max_tokens: 400,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'Describe the café “Zoë” — briefly.' }],
    };
    const reference = await resilientMessageStream(anthropicAt(sim.url), request).finalMessage();
    const body = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, stream: true }),
    }).then((response) => response.text());
    for (const marker of ['thinking_delta', 'signature_delta', 'text_delta']) {
      const offset = Buffer.byteLength(body.slice(0, body.indexOf(marker) + 20));
      const retries: string[] = [];
      const message = await resilientMessageStream(
        anthropicAt(sim.url, script({ dropAfterBytes: offset }, {})),
        request,
        {
          random: () => 0,
        },
      )
        .on('retry', (info) => retries.push(info.mode))
        .finalMessage();
      expect(message.content, marker).toEqual(reference.content);
      expect(retries, marker).toHaveLength(1);
      expect(retries[0], marker).not.toBe('resume');
    }
  });
});

describe('web search and pause_turn through the gateway', () => {
  it('the search pauses the turn; Chat sends it back and the answer continues with a citation', async () => {
    const from = sim.simulator.requests.length;
    const chat = chatThroughGateway({
      serverTools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
    });
    const pauses: string[] = [];
    const reply = await chat('Search the weather in Paris', {
      onPauseTurn: (paused) => pauses.push(paused.stop_reason ?? ''),
    });
    expect(pauses).toEqual(['pause_turn']);
    expect(reply.stop_reason).toBe('end_turn');
    expect(reply.content.map((block) => block.type)).toEqual([
      'text',
      'server_tool_use',
      'web_search_tool_result',
      'text',
    ]);
    const cited = reply.content[3]!;
    expect(isBlock(cited, 'text') && cited.citations).toEqual([
      expect.objectContaining({
        type: 'web_search_result_location',
        url: expect.stringMatching(/^https:\/\/search\.example\//),
      }),
    ]);
    const sent = simulatorRequests(from);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }]);
    expect(sent[1]!.messages.at(-1)?.role).toBe('assistant');
    expect(chat.usage.calls).toBe(2);
  });
});

describe('refusal through the gateway', () => {
  it(`"${REFUSAL_TRIGGER}" is refused with stop_details, once, not retried`, async () => {
    const from = sim.simulator.requests.length;
    const chat = chatThroughGateway({ tools: [sums] });
    const reply = await chat.toolLoop(`Please refuse: what is 1+1?`);
    expect(isRefusal(reply)).toBe(true);
    expect(reply.stop_details).toMatchObject({
      type: 'refusal',
      explanation: expect.stringContaining(REFUSAL_TRIGGER),
    });
    expect(simulatorRequests(from)).toHaveLength(1);
  });
});

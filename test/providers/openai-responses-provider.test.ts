import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { createOpenAIResponsesProvider } from '../../src/providers/openai-responses/provider.ts';
import {
  encodeResponsesEvent,
  ResponsesEncoder,
} from '../../src/providers/openai-responses/server/events.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { messageStart, textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

const KEY = 'sk-upstream-responses';
const THINKING: StreamEvent[] = [
  messageStart('msg_t', { input_tokens: 5, output_tokens: 1 }),
  { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Adding up.' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Four.' } },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 4 },
  },
  { type: 'message_stop' },
];

// Another Sluice gateway is the Responses upstream: real HTTP both ways.
let upstream: FastifyInstance;
let baseURL: string;
const thinker = new ScriptedProvider(() => ({ events: THINKING }));

beforeAll(async () => {
  upstream = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }), thinker },
    }),
    apiKeys: [KEY],
  });
  baseURL = `${await upstream.listen({ host: '127.0.0.1', port: 0 })}/v1`;
});
afterAll(async () => {
  await upstream?.close();
});

function client(model: string, url = baseURL): Client {
  return new Client(`openai-responses:${model}`, {
    provider: createOpenAIResponsesProvider({ apiKey: KEY, baseURL: url }),
    policy: { initialDelayMs: 1, maxDelayMs: 1 },
  });
}

describe('the openai-responses provider against a Responses API server', () => {
  it('streams text: the same answer the upstream’s model gives', async () => {
    const message = await client('sim:default').create("I'm Jeremy");
    const direct = await new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: NO_PACING }),
    }).create("I'm Jeremy");
    expect(message.content).toEqual(direct.content);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBe(direct.usage.output_tokens);
  });

  it('a tool call comes back as tool_use, and its result goes back as function_call_output', async () => {
    const sums = {
      name: 'sums',
      input_schema: {
        type: 'object' as const,
        properties: { a: { type: 'integer' }, b: { type: 'integer' } },
        required: ['a', 'b'],
      },
    };
    const first = await client('sim:default').create('What is 2+3?', { tools: [sums], toolChoice: 'sums' });
    const call = first.content.find((block) => block.type === 'tool_use') as { id: string; input: unknown };
    expect(call.input).toEqual({ a: 2, b: 3 });
    expect(first.stop_reason).toBe('tool_use');
    const second = await client('sim:default').create(
      [
        { role: 'user', content: 'What is 2+3?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '5' }] },
      ],
      { tools: [sums] },
    );
    expect(second.content.map((block) => (block.type === 'text' ? block.text : '')).join('')).toContain('5');
  });

  it('reasoning comes back as a signed thinking block, and goes back as one', async () => {
    const message = await client('thinker:x').create('What is 2+2?', {
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Adding up.', signature: 'sig-1' },
      { type: 'text', text: 'Four.' },
    ]);
    expect(thinker.requests.at(-1)?.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    await client('thinker:x').create([
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: message.content },
      { role: 'user', content: 'And 3+3?' },
    ]);
    expect(thinker.requests.at(-1)?.messages[1]).toEqual({ role: 'assistant', content: message.content });
  });
});

describe('the resilient stream on top', () => {
  let server: Server;
  let requests = 0;
  const answer = textMessageEvents(['The river ', 'runs ', 'to the ', 'sea ', 'at last.']);

  beforeAll(async () => {
    // A Responses server whose first answer is cut after its fifth event.
    server = createHttpServer((request, response) => {
      request.resume();
      request.on('end', () => {
        requests++;
        const encoder = new ResponsesEncoder({ id: `resp_${requests}`, createdAt: 1, model: 'm', echo: {} });
        const events = answer.flatMap((event) => encoder.apply(event));
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const sent = requests === 1 ? events.slice(0, 5) : events;
        response.write(sent.map(encodeResponsesEvent).join(''));
        if (requests === 1) response.socket?.destroy();
        else response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('a connection cut mid-answer is resumed (restart and skip): the text is the uninterrupted one', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const message = await client('m', url).create('Tell me about rivers');
    expect(requests).toBe(2);
    expect(message.content).toEqual([{ type: 'text', text: 'The river runs to the sea at last.' }]);
  });
});

import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';

// The AI SDK's default OpenAI provider speaks the Responses API: `openai('…')`, unchanged.
const KEY = 'sk-gateway-ai-sdk';
let gateway: FastifyInstance;
let openai: ReturnType<typeof createOpenAI>;
// What the provider sent, to see which of the API's features it used.
const sent: { input?: { type?: string }[] }[] = [];

beforeAll(async () => {
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
    }),
    apiKeys: [KEY],
    aliases: { 'gpt-5-mini': 'sim:default' },
  });
  const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  openai = createOpenAI({
    apiKey: KEY,
    baseURL: `${url}/v1`,
    fetch: (input, init) => {
      if (typeof init?.body === 'string') sent.push(JSON.parse(init.body));
      return fetch(input, init);
    },
  });
});
afterAll(async () => {
  await gateway?.close();
});

const sums = tool({
  description: 'Adds two integers.',
  inputSchema: z.object({ a: z.number().int(), b: z.number().int() }),
  execute: async ({ a, b }) => String(a + b),
});

describe('the AI SDK’s openai provider (Responses API) against the gateway', () => {
  it('streamText streams the answer and reports usage', async () => {
    const result = streamText({ model: openai('gpt-5-mini'), prompt: "I'm Jeremy" });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toContain('Jeremy');
    expect(await result.text).toBe(text);
    expect(await result.finishReason).toBe('stop');
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it('a tool loop with streamText: the call runs, its result goes back, the answer uses it', async () => {
    const result = streamText({
      model: openai('sim:default'),
      tools: { sums },
      stopWhen: stepCountIs(3),
      prompt: 'What is 604542+6458932?',
    });
    const text = await result.text;
    const steps = await result.steps;
    expect(steps[0]?.toolCalls[0]).toMatchObject({ toolName: 'sums', input: { a: 604542, b: 6458932 } });
    expect(steps).toHaveLength(2);
    // With the default store: true, the second step names the first step's message by reference.
    expect(sent.at(-1)?.input?.map((item) => item.type)).toEqual([
      undefined,
      'item_reference',
      'function_call',
      'function_call_output',
    ]);
    expect(text).toContain(String(604542 + 6458932));
  });

  it('a tool loop with generateText', async () => {
    const result = await generateText({
      model: openai('sim:default'),
      tools: { sums },
      stopWhen: stepCountIs(3),
      prompt: 'What is 2+3?',
    });
    expect(result.steps[0]?.toolCalls[0]).toMatchObject({ toolName: 'sums', input: { a: 2, b: 3 } });
    expect(result.text).toContain('5');
  });
});

import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';

const KEY = 'sk-gateway-openai-test';
let gateway: FastifyInstance;
let client: OpenAI;

beforeAll(async () => {
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
    }),
    apiKeys: [KEY],
    // An alias to a provider that is not there: createServer does not check its options.
    aliases: { 'gpt-4o-mini': 'sim:default', stale: 'retired:model' },
  });
  const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

const sums = {
  type: 'function' as const,
  function: {
    name: 'sums',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'],
    },
  },
};

describe('POST /v1/chat/completions with the official openai SDK', () => {
  it('non-streaming, reporting the model name the client asked for', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: "I'm Jeremy" },
      ],
    });
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0]?.message.content).toContain('Jeremy');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streaming with usage, ending in [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'sim:default',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toContain('simulated');
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number) });
  });

  it('tool calls, streamed in fragments and assembled by the SDK’s helper', async () => {
    const final = await client.chat.completions
      .stream({
        model: 'sim:default',
        tools: [sums],
        tool_choice: { type: 'function', function: { name: 'sums' } },
        messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
      })
      .finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      a: 604542,
      b: 6458932,
    });
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('a body that is not a JSON object is a 400 in OpenAI’s shape that says to send one', async () => {
    const response = await fetch(`${client.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' },
      body: 'Hi',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        type: 'invalid_request_error',
        message: expect.stringMatching(
          /^The request body must be a JSON object, sent with content-type: application\/json/,
        ),
        param: null,
        code: null,
      },
    });
  });

  it('lists the models in OpenAI’s shape, each owned by the provider it resolves to', async () => {
    const listed = [];
    for await (const model of client.models.list()) listed.push(model);
    expect(listed.map(({ id, object, owned_by }) => ({ id, object, owned_by }))).toEqual([
      { id: 'gpt-4o-mini', object: 'model', owned_by: 'sim' },
      { id: 'stale', object: 'model', owned_by: 'unknown' },
      { id: 'sim:default', object: 'model', owned_by: 'sim' },
    ]);
    for (const model of listed) expect(model.created * 1000).toBeLessThanOrEqual(Date.now());
    expect(await client.models.retrieve('gpt-4o-mini')).toMatchObject({ object: 'model', owned_by: 'sim' });
    await expect(client.models.retrieve('stale')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('errors arrive as the SDK’s classes with OpenAI-shaped bodies', async () => {
    const wrongKey = new OpenAI({ apiKey: 'wrong', baseURL: client.baseURL, maxRetries: 0 });
    await expect(
      wrongKey.chat.completions.create({ model: 'sim:default', messages: [{ role: 'user', content: 'Hi' }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const unknown = await client.chat.completions
      .create({ model: 'claude-9', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({
      type: 'not_found_error',
    });
    const invalid = await client.chat.completions
      .create({ model: 'sim:default', messages: [{ role: 'tool' as 'user', content: 'orphan' }] })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

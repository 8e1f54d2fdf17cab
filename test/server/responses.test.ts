import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer } from '../../src/server/app.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

const KEY = 'sk-gateway-responses-test';
let gateway: FastifyInstance;
let client: OpenAI;

// A reasoning model's answer: thinking, then text (what the simulator does not do).
const THINKING_ANSWER: StreamEvent[] = [
  {
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'thinker',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 4 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Two and ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'two is four.' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-abc' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Four.' } },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 9 },
  },
  { type: 'message_stop' },
];
const thinker = new ScriptedProvider(() => ({ events: THINKING_ANSWER }));
// Fails after the first text delta with an error no retry can help.
const failing = new ScriptedProvider(() => ({
  events: THINKING_ANSWER,
  throwAfter: { count: 8, error: new InvalidRequestError('The upstream refused the rest.') },
}));

beforeAll(async () => {
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: { sim: createSimulatedProvider({ pacing: NO_PACING }), scripted: thinker, failing },
    }),
    apiKeys: [KEY],
    aliases: { 'gpt-5-mini': 'sim:default' },
  });
  const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

const sums = {
  type: 'function' as const,
  name: 'sums',
  strict: true,
  parameters: {
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
    required: ['a', 'b'],
    additionalProperties: false,
  },
};

describe('POST /v1/responses with the official openai SDK', () => {
  it('non-streaming: the response object, with output_text, usage and the model asked for', async () => {
    const response = await client.responses.create({
      model: 'gpt-5-mini',
      instructions: 'Be brief.',
      input: "I'm Jeremy",
      metadata: { run: 'one' },
    });
    expect(response).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-5-mini',
      instructions: 'Be brief.',
      metadata: { run: 'one' },
      error: null,
      incomplete_details: null,
    });
    expect(response.id).toMatch(/^resp_/);
    expect(response.output_text).toContain('Jeremy');
    expect(response.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(response.usage?.total_tokens).toBe(
      (response.usage?.input_tokens ?? 0) + (response.usage?.output_tokens ?? 0),
    );
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('streaming: the semantic events, numbered from 0 without a gap, the deltas joined equal to the final text', async () => {
    const stream = await client.responses.create({ model: 'sim:default', input: 'Hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.slice(0, 4).map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(events.slice(-4).map((event) => event.type)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const deltas = events.flatMap((event) =>
      event.type === 'response.output_text.delta' ? [event.delta] : [],
    );
    const completed = events.at(-1);
    if (completed?.type !== 'response.completed') throw new Error(`ended with ${completed?.type}`);
    const [message] = completed.response.output;
    expect(message?.type === 'message' && message.content[0]).toEqual({
      type: 'output_text',
      text: deltas.join(''),
      annotations: [],
    });
    expect(deltas.join('')).toContain('simulated');
  });

  it('responses.stream: the helper’s text events and final response', async () => {
    let text = '';
    const stream = client.responses
      .stream({ model: 'sim:default', input: 'Say something' })
      .on('response.output_text.delta', (event) => {
        text += event.delta;
      });
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(text);
    expect(text.length).toBeGreaterThan(0);
  });

  it('a function-tool loop: the call, its output sent back, and the answer that uses it', async () => {
    const first = await client.responses.create({
      model: 'sim:default',
      tools: [sums],
      tool_choice: { type: 'function', name: 'sums' },
      input: 'What is 604542+6458932?',
      store: false,
    });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'sums', status: 'completed' });
    if (call?.type !== 'function_call') throw new Error('no call');
    const { a, b } = JSON.parse(call.arguments) as { a: number; b: number };
    expect({ a, b }).toEqual({ a: 604542, b: 6458932 });
    const second = await client.responses.create({
      model: 'sim:default',
      tools: [sums],
      store: false,
      input: [
        { role: 'user', content: 'What is 604542+6458932?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: String(a + b) },
      ],
    });
    expect(second.status).toBe('completed');
    expect(second.output_text).toContain(String(a + b));
  });

  it('a function call streamed: argument deltas, then the done event with the whole arguments', async () => {
    const stream = await client.responses.create({
      model: 'sim:default',
      tools: [sums],
      tool_choice: 'required',
      input: 'What is 2+3?',
      stream: true,
    });
    let deltas = '';
    let done: string | undefined;
    for await (const event of stream) {
      if (event.type === 'response.function_call_arguments.delta') deltas += event.delta;
      if (event.type === 'response.function_call_arguments.done') done = event.arguments;
    }
    expect(done).toBe(deltas);
    expect(JSON.parse(done ?? '')).toEqual({ a: 2, b: 3 });
  });

  it('reasoning: thinking comes out as a reasoning item with its summary, streamed as summary deltas', async () => {
    const response = await client.responses.create({
      model: 'scripted:thinker',
      input: 'What is 2+2?',
      reasoning: { effort: 'low' },
    });
    expect(thinker.requests.at(-1)?.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(response.output[0]).toEqual({
      id: expect.stringMatching(/^rs_/),
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Two and two is four.' }],
      encrypted_content: 'sig-abc',
    });
    expect(response.output_text).toBe('Four.');
    expect(response.usage).toEqual({
      input_tokens: 16,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 25,
    });
    const summary: string[] = [];
    const stream = await client.responses.create({ model: 'scripted:thinker', input: 'Again', stream: true });
    for await (const event of stream) {
      if (event.type === 'response.reasoning_summary_text.delta') summary.push(event.delta);
    }
    expect(summary).toEqual(['Two and ', 'two is four.']);
  });

  it('a reasoning item sent back becomes the signed thinking block again', async () => {
    const first = await client.responses.create({
      model: 'scripted:thinker',
      input: 'What is 2+2?',
      store: false,
    });
    await client.responses.create({
      model: 'scripted:thinker',
      store: false,
      input: [
        { role: 'user', content: 'What is 2+2?' },
        ...first.output,
        { role: 'user', content: 'And 3+3?' },
      ] as OpenAI.Responses.ResponseInput,
    });
    expect(thinker.requests.at(-1)?.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Two and two is four.', signature: 'sig-abc' },
        { type: 'text', text: 'Four.' },
      ],
    });
  });

  it('text.format json_schema: the answer is the schema’s JSON, as output_text', async () => {
    const response = await client.responses.create({
      model: 'sim:default',
      input: 'What is 12+30?',
      text: {
        format: {
          type: 'json_schema',
          name: 'sums',
          schema: sums.parameters,
          strict: true,
        },
      },
    });
    expect(response.output).toHaveLength(1);
    expect(JSON.parse(response.output_text)).toEqual({ a: 12, b: 30 });
    // Continued, the answer is the text it stood for, not a call waiting for its result.
    await client.responses.create({
      model: 'scripted:thinker',
      previous_response_id: response.id,
      input: 'Thanks',
    });
    expect(thinker.requests.at(-1)?.messages).toEqual([
      { role: 'user', content: 'What is 12+30?' },
      { role: 'assistant', content: '{"a":12,"b":30}' },
      { role: 'user', content: 'Thanks' },
    ]);
  });

  it('text.format json_schema streamed: the answer’s JSON comes as text deltas', async () => {
    const stream = await client.responses.create({
      model: 'sim:default',
      input: 'What is 12+30?',
      stream: true,
      text: { format: { type: 'json_schema', name: 'sums', schema: sums.parameters } },
    });
    let text = '';
    let done: string | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.output_text.done') done = event.text;
      expect(event.type).not.toMatch(/function_call/);
    }
    expect(done).toBe(text);
    expect(JSON.parse(text)).toEqual({ a: 12, b: 30 });
  });

  it('max_output_tokens cut: status incomplete with its reason', async () => {
    const response = await client.responses.create({
      model: 'sim:default',
      input: 'Tell me a long story',
      max_output_tokens: 3,
    });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });
});

describe('errors on /v1/responses, in the Responses API’s shape', () => {
  it('400 names the field at fault in param', async () => {
    const error = await client.responses
      .create({ model: 'sim:default', input: [{ type: 'file_search_call', id: 'x' } as never] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
      type: 'invalid_request_error',
      param: 'input[0].type',
      code: null,
      message: expect.stringMatching(/^input\[0\]\.type: file_search_call items are not supported/),
    });
    const tools = await client.responses
      .create({ model: 'sim:default', input: 'Hi', tools: [{ type: 'web_search' }] })
      .catch((e: unknown) => e);
    expect((tools as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'tools[0].type',
    });
    const schema = await client.responses
      .create({ model: 'sim:default', input: 'Hi', temperature: 3 })
      .catch((e: unknown) => e);
    expect((schema as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'temperature',
    });
  });

  it('429 when the key’s rate is spent, with retry-after', async () => {
    const limited = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
      }),
      apiKeys: [KEY],
      rateLimit: { requestsPerMinute: 1, burst: 1 },
    });
    const url = await limited.listen({ host: '127.0.0.1', port: 0 });
    try {
      const limitedClient = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
      await limitedClient.responses.create({ model: 'sim:default', input: 'Hi' });
      const error = await limitedClient.responses
        .create({ model: 'sim:default', input: 'Hi' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      const rateLimited = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(rateLimited.error).toMatchObject({ type: 'rate_limit_error', param: null, code: null });
      expect(Number(rateLimited.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  it('a failure mid-stream: the error event, then response.failed with what came before', async () => {
    const stream = await client.responses.create({ model: 'failing:any', input: 'Hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.slice(-2)).toMatchObject([
      { type: 'error', code: 'invalid_request_error', message: 'The upstream refused the rest.' },
      {
        type: 'response.failed',
        response: {
          status: 'failed',
          error: { code: 'invalid_prompt', message: 'The upstream refused the rest.' },
        },
      },
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
  });

  it('401 for a wrong key, 404 for an unknown model and an unknown response', async () => {
    const wrongKey = new OpenAI({ apiKey: 'wrong', baseURL: client.baseURL, maxRetries: 0 });
    await expect(wrongKey.responses.create({ model: 'sim:default', input: 'Hi' })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    await expect(client.responses.create({ model: 'claude-9', input: 'Hi' })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    const missing = await client.responses.retrieve('resp_nothing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({
      type: 'not_found_error',
      param: null,
    });
  });
});

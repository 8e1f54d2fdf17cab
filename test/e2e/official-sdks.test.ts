import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { createOpenAIProvider } from '../../src/providers/openai/provider.ts';
import { resilientMessageStream } from '../../src/resilience/resilient-stream.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { script, useSimulator } from '../helpers/simulator.ts';

const sim = useSimulator();

const SUMS_TOOL = {
  name: 'sums',
  description: 'Adds a + b.',
  input_schema: {
    type: 'object' as const,
    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
    required: ['a', 'b'],
  },
};

function anthropicSdk() {
  return new Anthropic({ apiKey: 'sk-test-not-real', baseURL: sim.url, maxRetries: 0 });
}

function openaiSdk() {
  return new OpenAI({ apiKey: 'sk-test-not-real', baseURL: `${sim.url}/v1`, maxRetries: 0 });
}

describe('the official @anthropic-ai/sdk against sluice simulate', () => {
  it('non-streaming', async () => {
    const message = await anthropicSdk().messages.create({
      model: 'default',
      max_tokens: 200,
      messages: [{ role: 'user', content: "I'm Jeremy" }],
    });
    expect(message.type).toBe('message');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('simulated') });
    expect(message.usage.output_tokens).toBeGreaterThan(10);
  });

  it('streaming, the same answer as Sluice assembles', async () => {
    const params = {
      model: 'default',
      max_tokens: 300,
      messages: [{ role: 'user' as const, content: 'Explain rivers — long, in detail.' }],
    };
    const sdkStream = anthropicSdk().messages.stream(params);
    let sdkText = '';
    sdkStream.on('text', (delta) => {
      sdkText += delta;
    });
    const sdkMessage = await sdkStream.finalMessage();
    const response = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    const ours = await MessageStream.fromResponse(response).finalMessage();
    expect(ours.content).toEqual(sdkMessage.content);
    expect(sdkText).toBe((ours.content[0] as { text: string }).text);
    expect(sdkMessage.stop_reason).toBe('max_tokens');
  });

  it('tools: a forced call streams its input as input_json_delta fragments', async () => {
    const stream = anthropicSdk().messages.stream({
      model: 'default',
      max_tokens: 200,
      tools: [SUMS_TOOL],
      tool_choice: { type: 'tool', name: 'sums' },
      messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
    });
    const fragments: string[] = [];
    stream.on('inputJson', (delta) => fragments.push(delta));
    const message = await stream.finalMessage();
    expect(fragments.length).toBeGreaterThan(1);
    expect(message.content.at(-1)).toMatchObject({
      type: 'tool_use',
      name: 'sums',
      input: { a: 604542, b: 6458932 },
    });
  });

  it('lists the model', async () => {
    const listed = [];
    for await (const model of anthropicSdk().models.list()) listed.push(model);
    expect(listed).toEqual([
      expect.objectContaining({ type: 'model', id: 'default', display_name: 'default' }),
    ]);
  });

  it('errors arrive as the SDK’s own classes', async () => {
    const client = new Anthropic({
      apiKey: 'sk-test-not-real',
      baseURL: sim.url,
      maxRetries: 0,
      defaultHeaders: { 'x-sluice-fault': JSON.stringify({ status: 529 }) },
    });
    const error = await client.messages
      .create({ model: 'default', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
  });
});

describe('the official openai SDK against sluice simulate', () => {
  it('non-streaming chat completion', async () => {
    const completion = await openaiSdk().chat.completions.create({
      model: 'default',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi there' },
      ],
    });
    expect(completion.choices[0]?.message.content).toContain('simulated');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('lists the model', async () => {
    const listed = [];
    for await (const model of openaiSdk().models.list()) listed.push(model);
    expect(listed).toEqual([
      expect.objectContaining({ object: 'model', id: 'default', owned_by: 'sluice-simulator' }),
    ]);
  });

  it('streaming with usage, and tool calls split across chunks', async () => {
    const stream = await openaiSdk().chat.completions.create({
      model: 'default',
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'sums', parameters: SUMS_TOOL.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'sums' } },
      messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
    });
    let argumentFragments = 0;
    let args = '';
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (call.function?.arguments) {
          argumentFragments++;
          args += call.function.arguments;
        }
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(argumentFragments).toBeGreaterThan(1);
    expect(JSON.parse(args)).toEqual({ a: 604542, b: 6458932 });
    expect(finish).toBe('tool_calls');
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number), prompt_tokens: expect.any(Number) });
  });

  it('the SDK’s stream helper assembles the same text as Sluice’s OpenAI provider', async () => {
    const sdkText = await openaiSdk()
      .chat.completions.stream({
        model: 'default',
        messages: [{ role: 'user', content: 'Tell me about Zoë’s café.' }],
      })
      .finalContent();
    const request: MessageCreateParams = {
      model: 'default',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Tell me about Zoë’s café.' }],
    };
    const provider = createOpenAIProvider({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
    expect(await resilientMessageStream(provider, request).finalText()).toBe(sdkText);
  });
});

describe('Sluice’s OpenAI-compatible provider against sluice simulate', () => {
  it('tool calls come back as tool_use blocks, usage included', async () => {
    const provider = createOpenAIProvider({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
    const message = await resilientMessageStream(provider, {
      model: 'default',
      max_tokens: 300,
      tools: [SUMS_TOOL],
      tool_choice: { type: 'tool', name: 'sums' },
      messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
    }).finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.at(-1)).toMatchObject({
      type: 'tool_use',
      name: 'sums',
      input: { a: 604542, b: 6458932 },
    });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('a tool result round trip answers with the result', async () => {
    const provider = createOpenAIProvider({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
    const text = await resilientMessageStream(provider, {
      model: 'default',
      max_tokens: 300,
      tools: [SUMS_TOOL],
      messages: [
        { role: 'user', content: 'What is 604542+6458932?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'call_1', name: 'sums', input: { a: 604542, b: 6458932 } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '7063474' }] },
      ],
    }).finalText();
    expect(text).toContain('7063474');
  });

  it('without prefill, a dropped stream restarts and skips what was delivered', async () => {
    const request: MessageCreateParams = {
      model: 'default',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Write a long essay on tides, in detail.' }],
    };
    const plain = createOpenAIProvider({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
    const expected = await resilientMessageStream(plain, request).finalText();
    const faulty = createOpenAIProvider({
      apiKey: 'sk-test',
      baseURL: `${sim.url}/v1`,
      headers: { 'x-sluice-fault': JSON.stringify(script({ dropAfterBytes: 5000 }, {})) },
    });
    const modes: string[] = [];
    const stream = resilientMessageStream(faulty, request, { random: () => 0 }).on('retry', (info) =>
      modes.push(info.mode),
    );
    expect(await stream.finalText()).toBe(expected);
    expect(modes).toEqual(['restart']);
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Chat, type ToolLoopStep } from '../../src/client/chat.ts';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { StructuredOutputError } from '../../src/client/structured.ts';
import { tool } from '../../src/client/tools.ts';
import { AbortError } from '../../src/protocol/errors.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry, unpacedRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider } from '../../src/providers/simulated/provider.ts';
import { useSimulator } from '../helpers/simulator.ts';

const sim = useSimulator();

/** The walkthrough runs twice: in-process, and over HTTP against `sluice simulate`. */
const targets: Array<[string, () => Client]> = [
  ['in-process simulated provider', () => new Client('sim:default', { registry: unpacedRegistry() })],
  [
    'sluice simulate over HTTP',
    () =>
      new Client('anthropic:default', {
        registry: new ProviderRegistry({
          providers: { anthropic: createAnthropicProvider({ apiKey: 'sk-test', baseURL: sim.url }) },
        }),
      }),
  ],
];

const calls: Array<{ a: number; b: number }> = [];
const sums = tool({
  name: 'sums',
  description: 'Adds a + b.',
  input: z.object({
    a: z.number().int().describe('First thing to sum'),
    b: z.number().int().describe('Second thing to sum'),
  }),
  run: ({ a, b }) => {
    calls.push({ a, b });
    return a + b;
  },
});
const question = 'What is 604542+6458932?';
const system = 'You are a summing expert.';

describe.each(targets)('the claudette walkthrough (%s)', (_, makeClient) => {
  it('keeps history: "I\'m Jeremy", then "What\'s my name?"', async () => {
    const chat = new Chat({ client: makeClient(), system: 'Never mention what tools you use.' });
    await chat("I'm Jeremy");
    const reply = await chat("What's my name?");
    expect(textOf(reply)).toContain('Your name is Jeremy');
    expect(chat.history.map((turn) => turn.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('prefill starts the answer, streaming and not, and usage accumulates', async () => {
    const client = makeClient();
    const prefill = 'According to Douglas Adams,';
    const reply = await client.create('Concisely, what is the meaning of life?', { prefill });
    expect(textOf(reply).startsWith(prefill)).toBe(true);
    const afterOne = client.usage.total;
    let streamed = '';
    for await (const text of client.stream('Concisely, what is the meaning of life?', { prefill })
      .textStream) {
      streamed += text;
    }
    expect(streamed).toBe(textOf(reply));
    expect(client.usage.calls).toBe(2);
    expect(client.usage.total).toBe(afterOne * 2);
  });

  it('sums yields 7063474 in Chat: the tool call, then chat() continues', async () => {
    calls.length = 0;
    const chat = new Chat({ client: makeClient(), system, tools: [sums] });
    const first = await chat(question);
    expect(first.stop_reason).toBe('tool_use');
    expect(calls).toEqual([{ a: 604542, b: 6458932 }]);
    expect(chat.history.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', content: '7063474' }],
    });
    const answer = await chat();
    expect(textOf(answer)).toContain('7063474');
  });

  it('sums in toolLoop, non-streaming and streaming', async () => {
    const chat = new Chat({ client: makeClient(), system, tools: [sums] });
    const steps: number[] = [];
    const final = await chat.toolLoop(question, { onStep: ({ step }) => void steps.push(step) });
    expect(textOf(final)).toContain('7063474');
    expect(steps).toEqual([1, 2]);

    const streaming = new Chat({ client: makeClient(), system, tools: [sums] });
    const seen: string[] = [];
    let text = '';
    let last: ToolLoopStep | undefined;
    for await (const step of streaming.streamToolLoop(question)) {
      seen.push(`step ${step.step}`);
      // Read in the tick the step arrives, as any MessageStream.
      for await (const delta of step.stream.textStream) if (step.step === 2) text += delta;
      last = await step.result();
      if (last.toolResults.length > 0) seen.push(`results:${last.toolResults[0]?.content}`);
    }
    expect(seen).toEqual(['step 1', 'results:7063474', 'step 2']);
    expect(text).toContain('7063474');
    expect(textOf(last!.message)).toBe(text);
  });

  it('an image message is accepted', async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    );
    const reply = await makeClient().create([
      [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } },
        { type: 'text', text: 'In brief, what color flowers are in this image?' },
      ],
    ]);
    expect(textOf(reply)).toMatch(/image/);
  });

  it('structured output returns a typed, validated object', async () => {
    const result = await makeClient().structured(
      'Add "604542" and "6458932" for me',
      z.object({ a: z.number(), b: z.number(), label: z.string() }),
    );
    expect(result).toEqual({ a: 604542, b: 6458932, label: expect.any(String) });
  });
});

describe('Chat', () => {
  const client = () => new Client('sim:default', { registry: unpacedRegistry() });

  it('history is serializable and can be restored', async () => {
    const chat = new Chat({ client: client() });
    await chat("I'm Jeremy");
    const restored = new Chat({ client: client(), history: JSON.parse(JSON.stringify(chat.history)) });
    expect(textOf(await restored("What's my name?"))).toContain('Jeremy');
  });

  it('chat.stream appends the reply and runs the tools', async () => {
    const chat = new Chat({ client: client(), system, tools: [sums] });
    const stream = chat.stream(question);
    await stream.finalMessage();
    await chat.settled();
    expect(chat.history.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', content: '7063474' }],
    });
    let text = '';
    for await (const delta of chat.stream().textStream) text += delta;
    expect(text).toContain('7063474');
  });

  it('maxSteps reached: one more call without tools gives the final answer', async () => {
    const loopy = tool({
      name: 'lookup',
      input: z.object({ q: z.string() }),
      run: () => 'Use lookup again.',
    });
    const chat = new Chat({ client: client(), tools: [loopy] });
    const steps: Array<string | null> = [];
    // tool_choice any keeps the model calling tools until maxSteps runs out.
    const final = await chat.toolLoop('Use lookup: "rivers"', {
      maxSteps: 2,
      toolChoice: 'any',
      onStep: ({ message }) => void steps.push(message.stop_reason),
    });
    expect(steps).toEqual(['tool_use', 'tool_use', 'end_turn']);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.content.some((block) => block.type === 'tool_use')).toBe(false);
  });

  it('abort in the middle of a tool loop stops it with AbortError', async () => {
    const controller = new AbortController();
    const slowTool = tool({
      name: 'slow',
      input: z.object({ q: z.string() }),
      run: (_input, { signal }) =>
        new Promise((_, reject) => {
          controller.abort();
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    });
    const chat = new Chat({ client: client(), tools: [slowTool] });
    await expect(chat.toolLoop('Use slow: "x"', { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
  });

  it('a prompt after pending tool results gets those answered first, as in claudette', async () => {
    const chat = new Chat({ client: client(), system, tools: [sums] });
    await chat(question);
    await chat('Thanks! And who are you?');
    expect(chat.history.map((turn) => turn.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(JSON.stringify(chat.history[3])).toContain('7063474');
  });

  it('usage is summed over the loop', async () => {
    const chat = new Chat({ client: client(), system, tools: [sums] });
    await chat.toolLoop(question);
    expect(chat.usage.calls).toBe(2);
    expect(chat.usage.output).toBeGreaterThan(0);
  });

  it('a model output that does not validate is a clear StructuredOutputError', async () => {
    const error = await client()
      .structured('Give me an address', z.object({ email: z.email() }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect((error as Error).message).toMatch(/does not match the schema: email:/);
    expect((error as StructuredOutputError).input).toEqual({ email: expect.any(String) });
  });

  it('a paced provider streams in order while the tool loop runs', async () => {
    const paced = new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: { ttftMs: 1, tokensPerSecond: 2000 } }),
    });
    const chat = new Chat({ client: paced, system, tools: [sums] });
    expect(textOf(await chat.toolLoop(question))).toContain('7063474');
  });
});

describe('Chat after a failed or aborted call', () => {
  const pacedClient = () =>
    new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 2000 } }),
    });

  it('an aborted stream takes its question back out: no hidden call answers it later', async () => {
    const chat = new Chat({ client: pacedClient() });
    const controller = new AbortController();
    const stream = chat.stream('Write a long essay on rivers, in detail.', { signal: controller.signal });
    stream.on('text', () => controller.abort());
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
    expect(chat.history).toEqual([]);
    await chat('Hi');
    expect(chat.history.map((turn) => turn.role)).toEqual(['user', 'assistant']);
    expect(chat.usage.calls).toBe(2);
  });

  it('a failed send leaves the history as it was', async () => {
    const chat = new Chat({
      client: new Client('anthropic:claude-sonnet-4-5', { registry: unpacedRegistry({}) }),
    });
    await expect(chat("I'm Jeremy")).rejects.toThrow(/ANTHROPIC_API_KEY/);
    expect(chat.history).toEqual([]);
  });

  it('the usage of an aborted call is counted by the time the stream has ended', async () => {
    const client = pacedClient();
    const controller = new AbortController();
    const stream = client.stream('Write a long essay on rivers, in detail.', { signal: controller.signal });
    stream.on('text', () => controller.abort());
    await stream.done();
    expect(client.usage.calls).toBe(1);
    expect(client.usage.output).toBeGreaterThan(0);
  });

  it('time to first token is measured at the model’s first token, not at the prefill', async () => {
    const slowStart = new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: { ttftMs: 60, tokensPerSecond: 0 } }),
    });
    const stream = slowStart.stream('Hi', { prefill: 'Well,' });
    const { measureStream } = await import('../../src/stream/measure.ts');
    const measurement = await measureStream(stream);
    expect(measurement.ttftMs).toBeGreaterThanOrEqual(55);
    expect((await stream.finalText()).startsWith('Well,')).toBe(true);
  });
});

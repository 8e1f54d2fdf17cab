import { describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { toMessageParams } from '../../src/client/messages.ts';
import { AbortError, InvalidRequestError } from '../../src/protocol/errors.ts';
import type { Message } from '../../src/protocol/message.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider } from '../../src/providers/simulated/provider.ts';

const registry = unpacedRegistry();
const simClient = (options = {}) => new Client('sim:default', { registry, ...options });

describe('toMessageParams', () => {
  it('a string is one user turn; strings alternate user and assistant', () => {
    expect(toMessageParams('Hi')).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(toMessageParams(['Hi', 'Hello!', 'How are you?'])).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'How are you?' },
    ]);
  });

  it('earlier responses are assistant turns and blocks are one turn', () => {
    const reply = {
      id: 'm',
      type: 'message',
      role: 'assistant',
      model: 'x',
      content: [{ type: 'text', text: 'Yo' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    } as Message;
    expect(
      toMessageParams([
        'Hi',
        reply,
        [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      ]),
    ).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: [{ type: 'text', text: 'Yo' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    ]);
  });

  it('merges consecutive turns of the same role instead of sending them broken', () => {
    expect(
      toMessageParams([
        { role: 'user', content: 'one' },
        { role: 'user', content: 'two' },
      ]),
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
    ]);
  });

  it('rejects what the API would reject, with a clear message', () => {
    expect(() => toMessageParams([])).toThrow(InvalidRequestError);
    expect(() => toMessageParams(['  '])).toThrow(/empty/);
    expect(() => toMessageParams([{ role: 'assistant', content: 'I start' }])).toThrow(
      /first turn must be the user/,
    );
    expect(() => toMessageParams([{ role: 'system' as 'user', content: 'x' }])).toThrow(/system option/);
  });
});

describe('Client', () => {
  it('create returns the message and usage accumulates across calls', async () => {
    const client = simClient();
    const first = await client.create("I'm Jeremy");
    expect(first.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('simulated') });
    expect(client.usage.calls).toBe(1);
    expect(client.usage.input).toBe(first.usage.input_tokens);
    expect(client.usage.output).toBe(first.usage.output_tokens);
    const second = await client.create('Hi');
    expect(client.usage.output).toBe(first.usage.output_tokens + second.usage.output_tokens);
    expect(String(client.usage)).toMatch(/^In: \d+; Out: \d+; Cache: 0 read, 0 written; Total: \d+$/);
    expect(client.result).toBe(second);
  });

  it('a prefill starts the returned text, streaming and not, and is trimmed for the API', async () => {
    const client = simClient({ log: true });
    const question = 'Concisely, what is the meaning of life?';
    const prefill = 'According to Douglas Adams,';
    const message = await client.create(question, { prefill });
    const text = (message.content[0] as { text: string }).text;
    expect(text.startsWith(prefill)).toBe(true);
    let streamed = '';
    for await (const delta of client.stream(question, { prefill }).textStream) streamed += delta;
    expect(streamed).toBe(text);
    // A prefill ending in white space is sent trimmed; the text still starts with it exactly.
    const spaced = await client.create(question, { prefill: `${prefill} ` });
    expect((spaced.content[0] as { text: string }).text.startsWith(`${prefill} `)).toBe(true);
    expect((spaced.content[0] as { text: string }).text).not.toContain(`${prefill}  `);
    expect(client.log.at(-1)?.request.messages.at(-1)).toEqual({ role: 'assistant', content: prefill });
  });

  it('builds the request the API expects from the options', () => {
    const client = simClient();
    const request = client.buildRequest('Hi', {
      system: 'Be terse.',
      temperature: 0,
      maxTokens: 100,
      stopSequences: ['END'],
      toolChoice: 'sums',
      thinking: { budgetTokens: 1024 },
      tools: [{ name: 'sums', input_schema: { type: 'object', properties: {} } }],
    });
    expect(request).toEqual({
      model: 'default',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hi' }],
      system: 'Be terse.',
      temperature: 0,
      stop_sequences: ['END'],
      tools: [{ name: 'sums', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'tool', name: 'sums' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
  });

  it('counts usage for aborted calls too, and keeps a log when asked', async () => {
    const slow = createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 500 } });
    const client = new Client('sim:default', { provider: slow, log: true });
    const controller = new AbortController();
    const stream = client.stream('Write a long essay on rivers, in detail.', { signal: controller.signal });
    let deltas = 0;
    stream.on('text', () => {
      if (++deltas === 5) controller.abort();
    });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
    await stream.done();
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.usage.calls).toBe(1);
    expect(client.usage.input).toBeGreaterThan(0);
    expect(client.usage.output).toBeGreaterThanOrEqual(5);
    expect(client.log[0]?.error).toBeInstanceOf(AbortError);
  });

  it('prices known models and lets users add their own', async () => {
    const client = new Client('sim:default', {
      registry,
      prices: { 'sim:default': { input: 1_000_000, output: 0 } },
    });
    const message = await client.create('Hi');
    expect(client.cost).toBeCloseTo(message.usage.input_tokens, 6);
  });

  it('a bad model string fails with the forms that work', () => {
    expect(() => new Client('gpt-4o', { registry })).toThrow(/provider:model/);
    expect(() => new Client('nope:x', { registry })).toThrow(/known providers: sim, anthropic, openai/);
  });

  it('an anthropic: model without a key fails with the variable to set', async () => {
    const client = new Client('anthropic:claude-sonnet-4-5', { registry: unpacedRegistry({}) });
    await expect(client.create('Hi')).rejects.toThrow(/ANTHROPIC_API_KEY/);
  });
});

describe('Client.stream before it is consumed', () => {
  it('does not start until read, so the caller may await something first', async () => {
    const client = simClient();
    const stream = client.stream('Hi');
    await new Promise((resolve) => setTimeout(resolve, 5));
    let text = '';
    for await (const delta of stream.textStream) text += delta;
    expect(text).toContain('simulated');
    expect(client.usage.calls).toBe(1);
  });
});

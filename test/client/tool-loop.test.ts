import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Chat, DEFAULT_MAX_STEPS, type ToolLoopStep } from '../../src/client/chat.ts';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { type Tool, tool } from '../../src/client/tools.ts';
import type { ToolResultBlock } from '../../src/protocol/content.ts';
import { AbortError, OverloadedError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams, MessageParam } from '../../src/protocol/request.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';
import { messageStart, textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider, type Step } from '../helpers/scripted-provider.ts';

/** A reply that asks for `name` with `input`, as a model streams it. */
function toolUseEvents(id: string, name: string, input: object, text = 'Let me look.'): StreamEvent[] {
  return [
    messageStart(),
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id, name, input: {} } },
    {
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) },
    },
    { type: 'content_block_stop', index: 1 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 5 },
    },
    { type: 'message_stop' },
  ] as StreamEvent[];
}

const lookup = tool({
  name: 'lookup',
  input: z.object({ q: z.string() }),
  run: ({ q }) => `found ${q}`,
});

/** A chat on a scripted model: no retries, so a failure is the step's failure. */
function scriptedChat(steps: Step[] | ((request: MessageCreateParams, call: number) => Step), tools: Tool[]) {
  const provider = new ScriptedProvider(steps);
  const client = new Client('scripted:test', { provider, policy: { maxRetries: 0 } });
  return { chat: new Chat({ client, tools }), provider };
}

/** A model that asks for `lookup` until told not to use tools, then answers. */
const alwaysLookup = (request: MessageCreateParams, call: number): Step =>
  request.tool_choice?.type === 'none'
    ? { events: textMessageEvents(['Done', ' with what I have.']) }
    : { events: toolUseEvents(`toolu_${call}`, 'lookup', { q: `r${call}` }) };

const roles = (history: MessageParam[]) => history.map((turn) => turn.role);

describe('Chat.streamToolLoop', () => {
  it('yields each step in order with its stream; the next starts after the tools ran', async () => {
    const { chat, provider } = scriptedChat(
      [
        { events: toolUseEvents('toolu_1', 'lookup', { q: 'rivers' }) },
        { events: textMessageEvents(['Rivers ', 'flow.']) },
      ],
      [lookup],
    );
    const seen: string[] = [];
    for await (const step of chat.streamToolLoop('Tell me about rivers')) {
      seen.push(`start ${step.step} (requests so far: ${provider.requests.length})`);
      let text = '';
      for await (const delta of step.stream.textStream) text += delta;
      seen.push(`text ${step.step}: ${text}`);
      const { toolResults } = await step.result();
      seen.push(`results ${step.step}: ${toolResults.map((result) => result.content).join(',')}`);
    }
    expect(seen).toEqual([
      'start 1 (requests so far: 0)',
      'text 1: Let me look.',
      'results 1: found rivers',
      'start 2 (requests so far: 1)',
      'text 2: Rivers flow.',
      'results 2: ',
    ]);
    // The second request carries the tool result.
    expect(provider.requests[1]?.messages.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'found rivers' }],
    });
    expect(roles(chat.history)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('returns the final message; toolLoop, the non-streaming form, gives the same steps', async () => {
    const script: Step[] = [
      { events: toolUseEvents('toolu_1', 'lookup', { q: 'a' }) },
      { events: textMessageEvents(['All done.']) },
    ];
    const streaming = scriptedChat(script, [lookup]).chat;
    const loop = streaming.streamToolLoop('Go');
    let next = await loop.next();
    while (!next.done) next = await loop.next();
    expect(textOf(next.value)).toBe('All done.');

    const plain = scriptedChat(script, [lookup]).chat;
    const steps: ToolLoopStep[] = [];
    const final = await plain.toolLoop('Go', { onStep: (step) => void steps.push(step) });
    expect(textOf(final)).toBe('All done.');
    expect(
      steps.map(({ step, message, toolResults }) => [step, message.stop_reason, toolResults.length]),
    ).toEqual([
      [1, 'tool_use', 1],
      [2, 'end_turn', 0],
    ]);
    expect(plain.history).toEqual(streaming.history);
  });

  it(`maxSteps (default ${DEFAULT_MAX_STEPS}) reached: one more call with toolChoice none answers`, async () => {
    const { chat, provider } = scriptedChat(alwaysLookup, [lookup]);
    const final = await chat.toolLoop('Look it all up');
    expect(provider.requests).toHaveLength(DEFAULT_MAX_STEPS + 1);
    expect(provider.requests.slice(0, DEFAULT_MAX_STEPS).map((request) => request.tool_choice)).toEqual(
      Array(DEFAULT_MAX_STEPS).fill(undefined),
    );
    expect(provider.requests.at(-1)?.tool_choice).toEqual({ type: 'none' });
    expect(textOf(final)).toBe('Done with what I have.');

    const two = scriptedChat(alwaysLookup, [lookup]);
    const withheld: boolean[] = [];
    for await (const step of two.chat.streamToolLoop('Look', { maxSteps: 2 })) {
      withheld.push(step.toolsWithheld);
      await step.result();
    }
    expect(withheld).toEqual([false, false, true]);
    expect(two.provider.requests.map((request) => request.tool_choice?.type)).toEqual([
      undefined,
      undefined,
      'none',
    ]);
  });

  it('stopWhen ends the loop after a step; its tool results stay for chat() to continue', async () => {
    const { chat, provider } = scriptedChat(alwaysLookup, [lookup]);
    const final = await chat.toolLoop('Look', { stopWhen: ({ step }) => step === 2 });
    expect(provider.requests).toHaveLength(2);
    expect(final.stop_reason).toBe('tool_use');
    expect(roles(chat.history)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(chat.history.at(-1)?.content).toMatchObject([{ type: 'tool_result', tool_use_id: 'toolu_1' }]);
  });

  it('prefill starts the first step only', async () => {
    const { chat, provider } = scriptedChat(
      [{ events: toolUseEvents('toolu_1', 'lookup', { q: 'a' }) }, { events: textMessageEvents(['ok']) }],
      [lookup],
    );
    await chat.toolLoop('Go', { prefill: 'Sure,' });
    expect(provider.requests[0]?.messages.at(-1)).toEqual({ role: 'assistant', content: 'Sure,' });
    expect(provider.requests[1]?.messages.at(-1)?.role).toBe('user');
  });

  it('a tool whose run throws is an is_error result the model sees; the loop goes on', async () => {
    const failing = tool({
      name: 'lookup',
      input: z.object({ q: z.string() }),
      run: () => {
        throw new Error('the index is offline');
      },
    });
    const { chat } = scriptedChat(
      [{ events: toolUseEvents('toolu_1', 'lookup', { q: 'a' }) }, { events: textMessageEvents(['Sorry.']) }],
      [failing],
    );
    const steps: ToolResultBlock[][] = [];
    await chat.toolLoop('Go', { onStep: ({ toolResults }) => void steps.push(toolResults) });
    expect(steps[0]).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_1',
        content: 'lookup failed: the index is offline',
        is_error: true,
      },
    ]);
    expect(roles(chat.history)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });
});

describe('the tool loop rolls the history back when a step fails', () => {
  /** A chat that already holds one exchange: the rollback must keep it. */
  const earlier: MessageParam[] = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
  ];

  it('a tool that rejects (not an is_error result: a broken tool) fails the loop', async () => {
    const broken: Tool = { ...lookup, execute: () => Promise.reject(new TypeError('execute is broken')) };
    const { chat } = scriptedChat(alwaysLookup, [broken]);
    chat.history = structuredClone(earlier);
    await expect(chat.toolLoop('Go')).rejects.toThrow('execute is broken');
    expect(chat.history).toEqual(earlier);
  });

  it('an upstream error in the middle of the second step', async () => {
    const { chat, provider } = scriptedChat(
      [
        { events: toolUseEvents('toolu_1', 'lookup', { q: 'a' }) },
        {
          events: textMessageEvents(['Half', ' an', ' answer']),
          throwAfter: { count: 3, error: new OverloadedError('Overloaded.') },
        },
      ],
      [lookup],
    );
    chat.history = structuredClone(earlier);
    let partial = '';
    const failure = (async () => {
      for await (const step of chat.streamToolLoop('Go')) {
        for await (const delta of step.stream.textStream) partial += delta;
      }
    })();
    await expect(failure).rejects.toBeInstanceOf(OverloadedError);
    expect(provider.requests).toHaveLength(2);
    // The second step had started streaming: its text arrived, and still nothing stays.
    expect(partial).toBe('Let me look.Half');
    expect(chat.history).toEqual(earlier);
    // The chat is usable: the next question goes out after the earlier exchange alone.
    const next = scriptedChat([{ events: textMessageEvents(['Fine.']) }], []);
    const fresh = new Chat({ client: next.chat.client, history: chat.history });
    await fresh('Again?');
    expect(next.provider.requests[0]?.messages).toEqual([...earlier, { role: 'user', content: 'Again?' }]);
  });

  it('an abort while a tool runs, after a step whose tool results are in', async () => {
    const controller = new AbortController();
    let calls = 0;
    const slow = tool({
      name: 'lookup',
      input: z.object({ q: z.string() }),
      run: (_input, { signal }) => {
        calls += 1;
        if (calls === 1) return 'first result';
        controller.abort();
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    });
    const { chat } = scriptedChat(alwaysLookup, [slow]);
    chat.history = structuredClone(earlier);
    await expect(chat.toolLoop('Go', { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(calls).toBe(2);
    expect(chat.history).toEqual(earlier);
  });

  it('an abort while the model streams, on the real simulated model', async () => {
    const controller = new AbortController();
    const { createSimulatedProvider } = await import('../../src/providers/simulated/provider.ts');
    const client = new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 2000 } }),
    });
    const chat = new Chat({ client, tools: [lookup] });
    const failure = (async () => {
      for await (const step of chat.streamToolLoop('Use lookup: "rivers"', { signal: controller.signal })) {
        // Abort in the middle of the second step's answer.
        if (step.step === 2) step.stream.on('text', () => controller.abort());
        await step.result();
      }
    })();
    await expect(failure).rejects.toBeInstanceOf(AbortError);
    expect(chat.history).toEqual([]);
    expect(chat.usage.calls).toBe(2);
  });

  it('leaving the loop early aborts the step in flight and undoes the turn', async () => {
    const { chat, provider } = scriptedChat(
      [
        { events: toolUseEvents('toolu_1', 'lookup', { q: 'a' }) },
        { events: textMessageEvents(['first', ' never sent']), stallAfter: 3 },
      ],
      [lookup],
    );
    for await (const step of chat.streamToolLoop('Go')) {
      if (step.step === 2) {
        // The second answer has started (and then stalls upstream): leave while it streams.
        await new Promise((resolve) => step.stream.on('text', resolve));
        break;
      }
      await step.result();
    }
    expect(provider.signals[1]?.aborted).toBe(true);
    expect(chat.history).toEqual([]);
  });

  it('onStep throwing fails the loop the same way', async () => {
    const { chat } = scriptedChat(alwaysLookup, [lookup]);
    await expect(
      chat.toolLoop('Go', {
        onStep: () => {
          throw new RangeError('stop here');
        },
      }),
    ).rejects.toThrow('stop here');
    expect(chat.history).toEqual([]);
  });

  it('rejects a maxSteps that is not a whole number before any call', async () => {
    const { chat, provider } = scriptedChat(alwaysLookup, [lookup]);
    await expect(chat.toolLoop('Go', { maxSteps: 1.5 })).rejects.toThrow(RangeError);
    expect(provider.requests).toHaveLength(0);
  });
});

describe('the tool loop on the simulated model', () => {
  it('runs the claudette sums example through the same loop, streamed and not', async () => {
    const sums = tool({
      name: 'sums',
      input: z.object({ a: z.number(), b: z.number() }),
      run: ({ a, b }) => a + b,
    });
    const client = () => new Client('sim:default', { registry: unpacedRegistry() });
    const plain = new Chat({ client: client(), tools: [sums] });
    const final = await plain.toolLoop('What is 604542+6458932?');
    const streamed = new Chat({ client: client(), tools: [sums] });
    let last: ToolLoopStep | undefined;
    for await (const step of streamed.streamToolLoop('What is 604542+6458932?')) last = await step.result();
    expect(textOf(final)).toContain('7063474');
    expect(last?.message.content).toEqual(final.content);
    expect(streamed.history).toEqual(plain.history);
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_CACHE_BREAKPOINTS, withCacheBreakpoints } from '../../src/client/cache.ts';
import { Chat } from '../../src/client/chat.ts';
import { Client } from '../../src/client/client.ts';
import { tool } from '../../src/client/tools.ts';
import { costOf, DEFAULT_PRICES } from '../../src/client/usage.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { isRefusal, type Message } from '../../src/protocol/message.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { assembleMessage } from '../../src/stream/assemble.ts';
import { streamEventsOf } from '../../src/stream/decode-events.ts';
import { SseDecoder } from '../../src/stream/sse.ts';
import { fixture } from '../helpers/bytes.ts';
import { textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

// Client and Chat with the API's newer shapes: thinking kept and sent back, paused turns
// continued, refusals final, cache breakpoints placed as documented. The provider plays the
// fixture transcripts written from the API's documentation.

function transcript(name: string): StreamEvent[] {
  const decoder = new SseDecoder();
  return streamEventsOf([...decoder.decode(fixture(name)), ...decoder.finish()]);
}

const messageOf = (name: string): Promise<Message> => assembleMessage(transcript(name));

const weather = tool({
  name: 'get_weather',
  description: 'The weather in a city.',
  input: z.object({ city: z.string(), unit: z.string() }),
  run: ({ city, unit }) => `18° ${unit} in ${city}, light rain`,
});

function countBreakpoints(request: MessageCreateParams): number {
  return JSON.stringify(request).split('"cache_control"').length - 1;
}

describe('thinking', () => {
  it('as a number (a budget), the API object, or adaptive', () => {
    const client = new Client('sim:default');
    expect(client.buildRequest('hi', { thinking: 2048 }).thinking).toEqual({
      type: 'enabled',
      budget_tokens: 2048,
    });
    expect(client.buildRequest('hi', { thinking: { budgetTokens: 1024 } }).thinking).toEqual({
      type: 'enabled',
      budget_tokens: 1024,
    });
    expect(client.buildRequest('hi', { thinking: { type: 'adaptive' } }).thinking).toEqual({
      type: 'adaptive',
    });
    expect(client.buildRequest('hi', { thinking: { type: 'disabled' } }).thinking).toEqual({
      type: 'disabled',
    });
  });

  it('a tool loop keeps the thinking blocks and sends them back unchanged, signature included', async () => {
    const provider = new ScriptedProvider([
      { events: transcript('thinking-tool-use.sse') },
      { events: textMessageEvents(['It is 18° and raining in Paris.']) },
    ]);
    const chat = new Chat({ model: 'scripted:x', provider, tools: [weather] });
    const final = await chat.toolLoop('Weather in Paris?', { thinking: 1024 });
    expect(final.content).toEqual([{ type: 'text', text: 'It is 18° and raining in Paris.' }]);
    const first = await messageOf('thinking-tool-use.sse');
    const sentBack = provider.requests[1]!;
    expect(sentBack.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(sentBack.messages[1]).toEqual({ role: 'assistant', content: first.content });
    expect(sentBack.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01WEATHER', content: '18° celsius in Paris, light rain' },
      ],
    });
    expect(chat.history[1]).toEqual({ role: 'assistant', content: first.content });
  });
});

describe('pause_turn', () => {
  const paused = () => transcript('web-search.sse');
  const rest = textMessageEvents([' Tomorrow it clears up.']);

  it('Chat sends the paused turn back and returns the whole turn; the listener sees the pause', async () => {
    const provider = new ScriptedProvider([{ events: paused() }, { events: rest }]);
    const chat = new Chat({ model: 'scripted:x', provider });
    const pauses: [string | null, number][] = [];
    const reply = await chat('Weather in Paris?', {
      onPauseTurn: (message, continuation) => pauses.push([message.stop_reason, continuation]),
    });
    const pausedMessage = await messageOf('web-search.sse');
    expect(pauses).toEqual([['pause_turn', 1]]);
    expect(provider.requests).toHaveLength(2);
    // The continuation request ends with the paused assistant turn, exactly as it came.
    expect(provider.requests[1]!.messages.at(-1)).toEqual({
      role: 'assistant',
      content: pausedMessage.content,
    });
    expect(reply.stop_reason).toBe('end_turn');
    expect(reply.content).toEqual([
      ...pausedMessage.content,
      { type: 'text', text: ' Tomorrow it clears up.' },
    ]);
    // One assistant turn in the history, as the API sees it.
    expect(chat.history.map((turn) => turn.role)).toEqual(['user', 'assistant']);
    expect(chat.history[1]!.content).toEqual(reply.content);
  });

  it('up to the limit, then the paused reply is returned as it is', async () => {
    const provider = new ScriptedProvider(() => ({ events: paused() }));
    const chat = new Chat({ model: 'scripted:x', provider, maxPauseContinuations: 2 });
    const reply = await chat('Weather in Paris?');
    expect(provider.requests).toHaveLength(3);
    expect(reply.stop_reason).toBe('pause_turn');
  });

  it('the tool loop continues a paused turn as a step of its own, not counted against maxSteps', async () => {
    const provider = new ScriptedProvider([{ events: paused() }, { events: rest }]);
    const chat = new Chat({ model: 'scripted:x', provider, tools: [weather] });
    const steps: (string | null)[] = [];
    const final = await chat.toolLoop('Weather in Paris?', {
      maxSteps: 0,
      onStep: (step) => {
        steps.push(step.message.stop_reason);
      },
    });
    expect(steps).toEqual(['pause_turn', 'end_turn']);
    expect(final.stop_reason).toBe('end_turn');
    // maxSteps 0: every call withholds tools, the continuation included.
    expect(provider.requests.map((request) => request.tool_choice)).toEqual([
      { type: 'none' },
      { type: 'none' },
    ]);
  });
});

describe('refusal', () => {
  it('a typed, inspectable result with stop_details; not retried, not continued', async () => {
    const provider = new ScriptedProvider([{ events: transcript('refusal.sse') }]);
    const chat = new Chat({ model: 'scripted:x', provider, tools: [weather] });
    const reply = await chat.toolLoop('Write working malware.');
    expect(provider.requests).toHaveLength(1);
    expect(isRefusal(reply)).toBe(true);
    if (!isRefusal(reply)) return;
    expect(reply.stop_details).toEqual({
      type: 'refusal',
      category: 'cyber',
      explanation: 'The request asks for working malware.',
    });
    expect(isRefusal(await messageOf('thinking.sse'))).toBe(false);
  });
});

describe('prompt caching', () => {
  const request: MessageCreateParams = {
    model: 'm',
    max_tokens: 100,
    system: 'You are terse.',
    tools: [weather.definition, { ...weather.definition, name: 'second' }],
    messages: [
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
      { role: 'user', content: [{ type: 'text', text: 'second question' }] },
    ],
  };

  it('breakpoints on the tools, the system prompt, the last turn and the user turn before it', () => {
    const before = structuredClone(request);
    const cached = withCacheBreakpoints(request, true);
    expect(cached.tools?.map((each) => 'cache_control' in each)).toEqual([false, true]);
    expect(cached.system).toEqual([
      { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
    ]);
    expect(cached.messages[2]!.content).toEqual([
      { type: 'text', text: 'second question', cache_control: { type: 'ephemeral' } },
    ]);
    expect(cached.messages[0]!.content).toEqual([
      { type: 'text', text: 'first question', cache_control: { type: 'ephemeral' } },
    ]);
    expect(cached.messages[1]).toEqual(request.messages[1]);
    expect(countBreakpoints(cached)).toBe(MAX_CACHE_BREAKPOINTS);
    // The caller's request and history are not changed.
    expect(request).toEqual(before);
  });

  it('at most four, the caller’s own counted and kept; ttl 1h when asked', () => {
    const own: MessageCreateParams = {
      ...request,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'doc', cache_control: { type: 'ephemeral' } }] },
        ...request.messages.slice(1),
      ],
    };
    const cached = withCacheBreakpoints(own, { ttl: '1h' });
    expect(countBreakpoints(cached)).toBe(4);
    expect(cached.messages[0]!.content).toEqual(own.messages[0]!.content);
    expect(cached.messages[2]!.content).toEqual([
      { type: 'text', text: 'second question', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    expect(withCacheBreakpoints(cached, true)).toEqual(cached);
  });

  it('Chat with cache: true sends them, and cache reads and writes count in usage and cost', async () => {
    const provider = new ScriptedProvider(() => ({ events: transcript('thinking-tool-use.sse') }));
    const chat = new Chat({
      model: 'anthropic:claude-sonnet-4-5',
      provider,
      system: 'You are terse.',
      cache: true,
    });
    await chat('Weather in Paris?');
    const sent = provider.requests[0]!;
    expect(sent.system).toEqual([
      { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
    ]);
    expect(sent.messages[0]!.content).toEqual([
      { type: 'text', text: 'Weather in Paris?', cache_control: { type: 'ephemeral' } },
    ]);
    // The history keeps the prompt as it was given.
    expect(chat.history[0]).toEqual({ role: 'user', content: 'Weather in Paris?' });
    expect(chat.usage.toJSON()).toMatchObject({ cacheWrite: 1024, cacheRead: 0 });
    // $3 input, $3.75 cache writes, $15 output per million tokens.
    expect(chat.usage.cost).toBeCloseTo((412 * 3 + 1024 * 3.75 + 88 * 15) / 1e6, 10);
  });

  it('cache writes that live an hour are priced at twice the input, as the API bills them', () => {
    const usage = {
      input_tokens: 100,
      output_tokens: 10,
      cache_creation_input_tokens: 3000,
      cache_read_input_tokens: 500,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
    };
    const price = DEFAULT_PRICES['anthropic:claude-sonnet-4-5']!;
    expect(costOf(usage, price)).toBeCloseTo(
      (100 * 3 + 10 * 15 + 1000 * 3.75 + 2000 * 6 + 500 * 0.3) / 1e6,
      12,
    );
  });
});

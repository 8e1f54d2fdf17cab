import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ApiError,
  ConnectionError,
  DeadlineExceededError,
  IdleTimeoutError,
  InvalidRequestError,
  OverloadedError,
  RateLimitError,
  StreamInterruptedError,
} from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { Usage } from '../../src/protocol/message.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { resilientMessageStream, resilientStream } from '../../src/resilience/resilient-stream.ts';
import type { RetryInfo } from '../../src/stream/message-stream.ts';
import { messageStart, textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

const REQUEST: MessageCreateParams = {
  model: 'test',
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'Tell me something.' }],
};
const FAST = { random: () => 0 };

/** Words with their leading white space: how the fake model streams an answer. */
function tokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

function toolEvents(startIndex: number, input: string, id = 'toolu_1'): StreamEvent[] {
  return [
    {
      type: 'content_block_start',
      index: startIndex,
      content_block: { type: 'tool_use', id, name: 'lookup', input: {} },
    },
    {
      type: 'content_block_delta',
      index: startIndex,
      delta: { type: 'input_json_delta', partial_json: input.slice(0, 5) },
    },
    {
      type: 'content_block_delta',
      index: startIndex,
      delta: { type: 'input_json_delta', partial_json: input.slice(5) },
    },
    { type: 'content_block_stop', index: startIndex },
  ];
}

/**
 * A model that always means the same answer and honours a prefill exactly, like the
 * simulator: given an assistant prefill P that starts the answer, it streams the rest.
 */
function prefixModel(answer: string, outputTokens = 50) {
  return (request: MessageCreateParams): StreamEvent[] => {
    const last = request.messages.at(-1)!;
    const prefill = last.role === 'assistant' ? (last.content as string) : '';
    if (!answer.startsWith(prefill)) throw new Error(`prefill is not a prefix: ${JSON.stringify(prefill)}`);
    return textMessageEvents(tokens(answer.slice(prefill.length)), { outputTokens });
  };
}

async function collect(stream: AsyncIterable<StreamEvent>) {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

function textOf(events: StreamEvent[]): string {
  return events
    .filter(
      (e) =>
        e.type === 'content_block_delta' && (e as { delta: { type: string } }).delta.type === 'text_delta',
    )
    .map((e) => (e as { delta: { text: string } }).delta.text)
    .join('');
}

describe('retries before the first byte', () => {
  it('retries a 500 and then succeeds, reporting the retry', async () => {
    const provider = new ScriptedProvider([
      { error: new ApiError('boom', { status: 500 }) },
      { events: textMessageEvents(['Hello', ' world']) },
    ]);
    const retries: RetryInfo[] = [];
    const stream = resilientMessageStream(provider, REQUEST, FAST).on('retry', (info) => retries.push(info));
    expect(await stream.finalText()).toBe('Hello world');
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, reason: 'api_error', mode: 'retry', delayMs: 0 }),
    ]);
  });

  it('honours the server retry hint', async () => {
    const provider = new ScriptedProvider([
      { error: new RateLimitError('slow down', { retryAfterMs: 7 }) },
      { events: textMessageEvents(['ok']) },
    ]);
    const retries: RetryInfo[] = [];
    await collect(resilientStream(provider, REQUEST, { ...FAST, onRetry: (info) => retries.push(info) }));
    expect(retries[0]?.delayMs).toBe(7);
  });

  it('fails at once when the server asks to wait longer than the policy allows', async () => {
    const error = new RateLimitError('come back in an hour', { retryAfterMs: 3_600_000 });
    const provider = new ScriptedProvider([{ error }]);
    await expect(collect(resilientStream(provider, REQUEST, FAST))).rejects.toBe(error);
    expect(provider.requests).toHaveLength(1);
  });

  it('does not retry a spend-limit 429, a 400, or an x-should-retry: false', async () => {
    for (const error of [
      new RateLimitError('You have reached your spend limit.'),
      new InvalidRequestError('messages: field required'),
      new OverloadedError('busy', { shouldRetry: false }),
    ]) {
      const provider = new ScriptedProvider([{ error }, { events: textMessageEvents(['x']) }]);
      await expect(collect(resilientStream(provider, REQUEST, FAST))).rejects.toBe(error);
      expect(provider.requests).toHaveLength(1);
    }
  });

  it('gives up after maxRetries with the last error, which carries its status', async () => {
    const provider = new ScriptedProvider(() => ({ error: new OverloadedError('Overloaded') }));
    const error = await collect(
      resilientStream(provider, REQUEST, { ...FAST, policy: { maxRetries: 2 } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect((error as OverloadedError).status).toBe(529);
    expect(provider.requests).toHaveLength(3);
  });

  it('backs off exponentially with full jitter', async () => {
    const provider = new ScriptedProvider([
      { error: new ConnectionError('refused') },
      { error: new ConnectionError('refused') },
      { error: new ConnectionError('refused') },
      { events: textMessageEvents(['ok']) },
    ]);
    const delays: number[] = [];
    await collect(
      resilientStream(provider, REQUEST, {
        random: () => 0.999,
        policy: { initialDelayMs: 4, maxDelayMs: 10 },
        onRetry: (info) => delays.push(info.delayMs),
      }),
    );
    expect(delays).toEqual([3, 7, 9]);
  });
});

describe('resume after the first byte', () => {
  const answer = 'The quick brown fox jumps over the lazy dog.\n\nSecond paragraph — with café and 🐕 in it.';

  it('continues a dropped text answer by prefill, with one message_start and exact text', async () => {
    const model = prefixModel(answer);
    const provider = new ScriptedProvider((request, call) => ({
      events: model(request),
      dropAfter: call === 0 ? 6 : undefined,
    }));
    const retries: RetryInfo[] = [];
    const events = await collect(
      resilientStream(provider, REQUEST, { ...FAST, onRetry: (i) => retries.push(i) }),
    );
    expect(textOf(events)).toBe(answer);
    expect(events.filter((e) => e.type === 'message_start')).toHaveLength(1);
    expect(retries[0]).toMatchObject({ mode: 'resume', reason: 'incomplete_stream' });
    expect(provider.requests[1]!.messages.at(-1)).toEqual({
      role: 'assistant',
      content: 'The quick brown fox',
    });
  });

  it('trims trailing white space from the prefill and splices the repeated white space', async () => {
    const provider = new ScriptedProvider([
      { events: textMessageEvents(['Hello', ' world', '\n\n']), dropAfter: 5 },
      { events: textMessageEvents(['\n\nNext', ' part.']) },
    ]);
    const events = await collect(resilientStream(provider, REQUEST, FAST));
    expect(provider.requests[1]!.messages.at(-1)).toEqual({ role: 'assistant', content: 'Hello world' });
    expect(textOf(events)).toBe('Hello world\n\nNext part.');
  });

  it('extends the caller’s own prefill', async () => {
    const request: MessageCreateParams = {
      ...REQUEST,
      messages: [...REQUEST.messages, { role: 'assistant', content: 'According to' }],
    };
    const provider = new ScriptedProvider([
      { events: textMessageEvents([' Douglas', ' Adams,']), dropAfter: 3 },
      { events: textMessageEvents([' Adams,', ' 42.']) },
    ]);
    const events = await collect(resilientStream(provider, request, FAST));
    expect(provider.requests[1]!.messages.at(-1)).toEqual({
      role: 'assistant',
      content: 'According to Douglas',
    });
    expect(textOf(events)).toBe(' Douglas Adams, 42.');
  });

  it('resumes after an overloaded_error event and after an idle stall', async () => {
    const model = prefixModel(answer);
    const provider = new ScriptedProvider((request, call) => {
      const events = model(request);
      if (call === 0)
        return {
          events: [
            ...events.slice(0, 4),
            { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
          ],
        };
      if (call === 1) return { events, stallAfter: 4 };
      return { events };
    });
    const reasons: string[] = [];
    const events = await collect(
      resilientStream(provider, REQUEST, {
        ...FAST,
        policy: { idleTimeoutMs: 30 },
        onRetry: (i) => reasons.push(i.reason),
      }),
    );
    expect(textOf(events)).toBe(answer);
    expect(reasons).toEqual(['overloaded_error', 'idle_timeout']);
    expect(provider.signals[1]!.aborted).toBe(true);
  });

  it('restarts and skips when a finished tool call came before the failure', async () => {
    const input = '{"query": "weather"}';
    const full: StreamEvent[] = [
      messageStart(),
      ...toolEvents(0, input),
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Checking' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: ' now.' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ];
    const again = full.map((e) =>
      e.type === 'content_block_start' && e.index === 0
        ? { ...e, content_block: { type: 'tool_use', id: 'toolu_2', name: 'lookup', input: {} } }
        : e,
    ) as StreamEvent[];
    const provider = new ScriptedProvider([{ events: full, dropAfter: 7 }, { events: again }]);
    const retries: RetryInfo[] = [];
    const stream = resilientMessageStream(provider, REQUEST, { ...FAST, onRetry: (i) => retries.push(i) });
    const message = await stream.finalMessage();
    expect(retries[0]?.mode).toBe('restart');
    expect(provider.requests[1]).toEqual(REQUEST);
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { query: 'weather' } },
      { type: 'text', text: 'Checking now.' },
    ]);
  });

  it('ends with StreamInterruptedError and the partial message when the restarted answer diverges', async () => {
    const first: StreamEvent[] = [
      messageStart(),
      ...toolEvents(0, '{"query": "weather"}'),
      ...textMessageEvents(['a']).slice(1),
    ];
    const provider = new ScriptedProvider([
      { events: first, dropAfter: 5 },
      { events: [messageStart(), ...toolEvents(0, '{"query": "stocks"}'), { type: 'message_stop' }] },
    ]);
    const error = await resilientMessageStream(provider, REQUEST, FAST)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as StreamInterruptedError).partialMessage?.content).toEqual([
      { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { query: 'weather' } },
    ]);
  });

  it('a provider without prefill restarts and skips the text already delivered', async () => {
    const model = prefixModel(answer);
    const provider = new ScriptedProvider(
      (request, call) => ({ events: model(request), dropAfter: call === 0 ? 8 : undefined }),
      { prefill: false },
    );
    const events = await collect(resilientStream(provider, REQUEST, FAST));
    expect(textOf(events)).toBe(answer);
    expect(provider.requests[1]).toEqual(REQUEST);
  });

  it('never shows half a tool call: an incomplete tool block is held back and replaced whole', async () => {
    const input = '{"query": "weather in Paris"}';
    const events: StreamEvent[] = [
      messageStart(),
      ...toolEvents(0, input),
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } },
      { type: 'message_stop' },
    ];
    const provider = new ScriptedProvider([{ events, dropAfter: 3 }, { events }]);
    const seen = await collect(resilientStream(provider, REQUEST, FAST));
    expect(seen.filter((e) => e.type === 'content_block_start')).toHaveLength(1);
    expect(seen.filter((e) => e.type === 'content_block_delta')).toHaveLength(2);
  });

  it('with resume off, a failure after content is an error carrying the partial message', async () => {
    const provider = new ScriptedProvider([{ events: textMessageEvents(['Hello', ' there']), dropAfter: 4 }]);
    const error = await resilientMessageStream(provider, REQUEST, { ...FAST, policy: { resume: false } })
      .finalMessage()
      .catch((e: unknown) => e);
    expect((error as ConnectionError).partialMessage?.content).toEqual([
      { type: 'text', text: 'Hello there' },
    ]);
  });

  it('drop anywhere, any number of times: the text is exact (property)', async () => {
    const model = prefixModel(answer);
    const eventCount = textMessageEvents(tokens(answer)).length;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: eventCount }), { maxLength: 4 }), async (drops) => {
        const provider = new ScriptedProvider((request, call) => ({
          events: model(request),
          dropAfter: drops[call],
        }));
        const stream = resilientMessageStream(provider, REQUEST, FAST);
        let text = '';
        for await (const delta of stream.textStream) text += delta;
        expect(text).toBe(answer);
        expect(await stream.finalText()).toBe(answer);
      }),
      { numRuns: 200 },
    );
  });
});

describe('usage, abort and deadline', () => {
  it('sums usage over every attempt', async () => {
    const provider = new ScriptedProvider([
      { events: textMessageEvents(['a', ' b', ' c'], { outputTokens: 3 }), dropAfter: 4 },
      { events: textMessageEvents([' c'], { outputTokens: 1 }) },
    ]);
    let reported: Usage | undefined;
    const message = await resilientMessageStream(provider, REQUEST, {
      ...FAST,
      onUsage: (u) => (reported = u),
    }).finalMessage();
    // Two attempts of 10 input tokens; the first broke off after 2 deltas (estimated 2 tokens), the second reported 1.
    expect(message.usage).toMatchObject({ input_tokens: 20, output_tokens: 3 });
    expect(reported).toMatchObject({ input_tokens: 20, output_tokens: 3 });
  });

  it('reports usage and cancels the upstream when the caller aborts mid-stream', async () => {
    const provider = new ScriptedProvider([{ events: textMessageEvents(['a', 'b', 'c']), stallAfter: 4 }]);
    const controller = new AbortController();
    let reported: Usage | undefined;
    const stream = resilientMessageStream(provider, REQUEST, {
      ...FAST,
      signal: controller.signal,
      onUsage: (usage) => (reported = usage),
    });
    stream.on('text', (delta) => delta === 'b' && controller.abort());
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
    await stream.done();
    await new Promise((resolve) => setImmediate(resolve));
    expect(provider.signals[0]!.aborted).toBe(true);
    expect(reported).toMatchObject({ input_tokens: 10, output_tokens: 2 });
  });

  it('an abort during the backoff wait ends the call at once', async () => {
    const provider = new ScriptedProvider([{ error: new OverloadedError('busy', { retryAfterMs: 50_000 }) }]);
    const controller = new AbortController();
    const run = collect(
      resilientStream(provider, REQUEST, {
        signal: controller.signal,
        onRetry: () => controller.abort(),
      }),
    );
    await expect(run).rejects.toBeInstanceOf(AbortError);
  });

  it('the total deadline ends a call that keeps failing', async () => {
    const provider = new ScriptedProvider(() => ({
      error: new OverloadedError('busy', { retryAfterMs: 20 }),
    }));
    const run = collect(resilientStream(provider, REQUEST, { policy: { deadlineMs: 50, maxRetries: 100 } }));
    await expect(run).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('a call that began elsewhere (startedAt) has its deadline counted from then', async () => {
    const provider = new ScriptedProvider(() => ({
      error: new OverloadedError('busy', { retryAfterMs: 20 }),
    }));
    // Begun 59.95 s ago with a minute's deadline: without startedAt this would retry for a minute.
    const run = collect(
      resilientStream(provider, REQUEST, {
        policy: { deadlineMs: 60_000, maxRetries: 100_000 },
        startedAt: Date.now() - 59_950,
      }),
    );
    await expect(run).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('an idle stall with retries exhausted is an IdleTimeoutError with the partial text', async () => {
    const provider = new ScriptedProvider(() => ({
      events: textMessageEvents(['only', ' this']),
      stallAfter: 3,
    }));
    const error = await resilientMessageStream(provider, REQUEST, {
      ...FAST,
      policy: { idleTimeoutMs: 20, maxRetries: 0 },
    })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdleTimeoutError);
    expect((error as IdleTimeoutError).partialMessage?.content).toEqual([{ type: 'text', text: 'only' }]);
  });
});

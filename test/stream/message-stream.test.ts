import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AbortError,
  IncompleteStreamError,
  OverloadedError,
  RateLimitError,
  type SluiceError,
} from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { COMPLETE_FIXTURES, fixture, iterableOf, readableOf, splitAt } from '../helpers/bytes.ts';
import { eventsOf, textMessageEvents } from '../helpers/events.ts';

function streamOf(events: StreamEvent[]): MessageStream {
  return new MessageStream(() => eventsOf(events));
}

describe('MessageStream consumption styles', () => {
  it('iterates events and then gives the final message', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('text.sse')]));
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect((await stream.finalMessage()).id).toBe('msg_01TEXT');
  });

  it('textStream, listeners and finalText together, from one pass', async () => {
    const stream = MessageStream.fromSSE(readableOf([fixture('citations.sse')]));
    const listened: Array<[string, string]> = [];
    const blocks: string[] = [];
    let citations = 0;
    let ended = 0;
    stream
      .on('text', (delta, snapshot) => listened.push([delta, snapshot]))
      .on('contentBlock', (block) => blocks.push(block.type))
      .on('citation', () => citations++)
      .on('end', () => ended++);
    let streamed = '';
    for await (const text of stream.textStream) streamed += text;
    expect(streamed).toBe('the grass is green and the sky is blue');
    expect(await stream.finalText()).toBe(streamed);
    expect(listened).toEqual([
      ['the grass is green', 'the grass is green'],
      [' and ', ' and '],
      ['the sky is blue', 'the sky is blue'],
    ]);
    expect(blocks).toEqual(['text', 'text', 'text']);
    expect(citations).toBe(2);
    expect(ended).toBe(1);
  });

  it('two iterators and a listener see every event once', async () => {
    const stream = streamOf(textMessageEvents(['a', 'b', 'c']));
    const first = stream[Symbol.asyncIterator]();
    const second = stream[Symbol.asyncIterator]();
    const seen: number[] = [0, 0, 0];
    stream.on('event', () => seen[2]!++);
    const drain = async (iterator: AsyncIterator<StreamEvent>, slot: number) => {
      while (!(await iterator.next()).done) seen[slot]!++;
    };
    await Promise.all([drain(first, 0), drain(second, 1)]);
    expect(seen).toEqual([8, 8, 8]);
  });

  it('inputJson listeners get the live partial input after every delta', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('tool-use.sse')]));
    const partials: unknown[] = [];
    stream.on('inputJson', (_delta, partial) => partials.push(structuredClone(partial)));
    const message = await stream.finalMessage();
    expect(partials[1]).toEqual({});
    expect(partials[2]).toEqual({ pattern: '^\\d+ caf' });
    expect(partials.at(-1)).toEqual((message.content[1] as { input: unknown }).input);
  });

  it('only listeners: the stream still runs', async () => {
    const stream = streamOf(textMessageEvents(['x', 'y']));
    const message = await new Promise((resolve) => stream.on('message', resolve));
    expect(message).toMatchObject({ content: [{ text: 'xy' }] });
  });

  it('thinking listener gets deltas and snapshots', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('thinking.sse')]));
    const snapshots: string[] = [];
    stream.on('thinking', (_delta, snapshot) => snapshots.push(snapshot));
    await stream.finalMessage();
    expect(snapshots).toEqual([
      'The user asks for 27 * 453.\n',
      'The user asks for 27 * 453.\n27 * 453 = 12231.',
    ]);
  });

  it('an iterator opened after the stream ended still gets the whole answer', async () => {
    const stream = streamOf(textMessageEvents(['x', 'y']));
    await stream.finalMessage();
    let text = '';
    for await (const delta of stream.textStream) text += delta;
    expect(text).toBe('xy');
  });
});

describe('MessageStream failures', () => {
  it('an error event is thrown from iteration and finalMessage as its typed error', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('error-event.sse')]));
    const errors: SluiceError[] = [];
    stream.on('error', (error) => errors.push(error));
    let text = '';
    const iteration = (async () => {
      for await (const delta of stream.textStream) text += delta;
    })();
    await expect(iteration).rejects.toBeInstanceOf(OverloadedError);
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect((error as OverloadedError).partialMessage?.content).toEqual([
      { type: 'text', text: 'The first half of an answer' },
    ]);
    expect(text).toBe('The first half of an answer');
    expect(errors).toEqual([error]);
  });

  it('a cut stream rejects with IncompleteStreamError, never a silent truncation', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('cut-before-stop.sse')]));
    let text = '';
    await expect(
      (async () => {
        for await (const delta of stream.textStream) text += delta;
      })(),
    ).rejects.toBeInstanceOf(IncompleteStreamError);
    expect(text).toBe('This answer is cut');
  });

  it('a listener that throws fails the stream with its own error and stops the source', async () => {
    let closed = false;
    const stream = new MessageStream(async function* () {
      try {
        yield* eventsOf(textMessageEvents(['a', 'b', 'c']));
      } finally {
        closed = true;
      }
    });
    const boom = new Error('listener failed');
    stream.on('text', () => {
      throw boom;
    });
    await expect(stream.finalMessage()).rejects.toBe(boom);
    expect(closed).toBe(true);
  });

  it('an erroring stream nobody awaits raises no unhandled rejection', async () => {
    const stream = MessageStream.fromSSE(iterableOf([fixture('error-event.sse')]));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stream.on('text', () => {});
    await stream.done();
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
});

describe('MessageStream abort', () => {
  function hangingSource() {
    const state = { closedWith: undefined as unknown, signal: undefined as AbortSignal | undefined };
    const factory = ({ signal }: { signal: AbortSignal }) => {
      state.signal = signal;
      return (async function* () {
        yield* eventsOf(textMessageEvents(['partial']).slice(0, 3));
        // A source that never yields again and ignores its signal: abort must still end the stream.
        await new Promise(() => {});
      })();
    };
    return { state, factory };
  }

  it('abort() ends a stalled stream at once with AbortError and the partial message', async () => {
    const { state, factory } = hangingSource();
    const stream = new MessageStream(factory);
    const aborts: AbortError[] = [];
    stream.on('abort', (error) => aborts.push(error));
    stream.on('text', () => stream.abort());
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).partialMessage?.content).toEqual([{ type: 'text', text: 'partial' }]);
    expect(aborts).toHaveLength(1);
    expect(state.signal?.aborted).toBe(true);
    expect(stream.aborted).toBe(true);
  });

  it('an external AbortSignal aborts the stream', async () => {
    const { factory } = hangingSource();
    const controller = new AbortController();
    const stream = new MessageStream(factory, { signal: controller.signal });
    stream.on('text', () => controller.abort());
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
  });

  it('a finished stream lets go of the caller’s signal, which may live much longer', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 20; i++) {
      await new MessageStream(() => eventsOf(textMessageEvents(['x'])), {
        signal: shared.signal,
      }).finalMessage();
    }
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('a signal already aborted fails the stream without touching the source', async () => {
    let called = false;
    const stream = new MessageStream(
      () => {
        called = true;
        return eventsOf([]);
      },
      { signal: AbortSignal.abort() },
    );
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
    expect(called).toBe(false);
  });

  it('breaking out of a loop aborts the upstream', async () => {
    const { state, factory } = hangingSource();
    const stream = new MessageStream(factory);
    for await (const text of stream.textStream) {
      expect(text).toBe('partial');
      break;
    }
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(AbortError);
    expect(state.signal?.aborted).toBe(true);
  });
});

describe('MessageStream backpressure', () => {
  it('a reader that falls behind holds the source back instead of queueing everything', async () => {
    let produced = 0;
    const events = textMessageEvents(Array.from({ length: 500 }, (_, i) => `${i} `));
    const stream = new MessageStream(async function* () {
      for (const event of events) {
        produced++;
        yield event;
      }
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    // Let the pump run as far as it can while the reader stands still.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(produced).toBeLessThan(40);
    let consumed = 1;
    while (!(await iterator.next()).done) consumed++;
    expect(consumed).toBe(events.length);
  });
});

describe('MessageStream.fromResponse', () => {
  it('maps an error status to its typed error with the retry hint and request id', async () => {
    const response = new Response(
      JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down.' } }),
      {
        status: 429,
        headers: { 'retry-after': '2', 'request-id': 'req_42', 'content-type': 'application/json' },
      },
    );
    const error = await MessageStream.fromResponse(response)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({
      status: 429,
      retryAfterMs: 2000,
      requestId: 'req_42',
      message: 'Slow down.',
    });
  });

  it('streams an SSE body', async () => {
    const response = new Response(readableOf([fixture('thinking.sse')]), {
      headers: { 'content-type': 'text/event-stream' },
    });
    expect(await MessageStream.fromResponse(response).finalText()).toBe('27 × 453 = 12,231');
  });
});

describe('MessageStream chunking (property)', () => {
  it('any chunking of any fixture, down to single bytes, gives the same message and text', async () => {
    for (const name of COMPLETE_FIXTURES) {
      const bytes = fixture(name);
      const reference = await MessageStream.fromSSE(iterableOf([bytes])).finalMessage();
      const referenceText = reference.content
        .filter((block) => block.type === 'text')
        .map((block) => (block as { text: string }).text)
        .join('');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 64 }),
            fc.constant(Array.from({ length: bytes.length }, (_, i) => i)),
          ),
          async (cuts) => {
            const stream = MessageStream.fromSSE(readableOf(splitAt(bytes, cuts)));
            let text = '';
            for await (const delta of stream.textStream) text += delta;
            expect(await stream.finalMessage()).toEqual(reference);
            expect(text).toBe(referenceText);
          },
        ),
        { numRuns: 50 },
      );
    }
  });
});

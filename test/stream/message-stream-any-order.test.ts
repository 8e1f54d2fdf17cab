import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { Message } from '../../src/protocol/message.ts';
import { assembleMessage, MessageAssembler } from '../../src/stream/assemble.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { replayEvents } from '../../src/stream/replay-events.ts';
import { COMPLETE_FIXTURES, fixture, iterableOf } from '../helpers/bytes.ts';
import { messageStart } from '../helpers/events.ts';

// A message with every kind of streamed field: thinking with its signature, text in several
// deltas with a citation, and a tool call whose input streams in pieces.
const delta = (index: number, payload: Record<string, unknown>) =>
  ({ type: 'content_block_delta', index, delta: payload }) as StreamEvent;
const EVENTS: StreamEvent[] = [
  messageStart('msg_any_order'),
  { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
  delta(0, { type: 'thinking_delta', thinking: 'Look it ' }),
  delta(0, { type: 'thinking_delta', thinking: 'up.' }),
  delta(0, { type: 'signature_delta', signature: 'sig' }),
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
  delta(1, { type: 'text_delta', text: 'The grass ' }),
  { type: 'ping' },
  delta(1, { type: 'text_delta', text: 'is ' }),
  delta(1, {
    type: 'citations_delta',
    citation: {
      type: 'char_location',
      cited_text: 'green',
      document_index: 0,
      start_char_index: 0,
      end_char_index: 5,
    },
  }),
  delta(1, { type: 'text_delta', text: 'green.' }),
  { type: 'content_block_stop', index: 1 },
  {
    type: 'content_block_start',
    index: 2,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} },
  },
  delta(2, { type: 'input_json_delta', partial_json: '{"q": "gr' }),
  delta(2, { type: 'input_json_delta', partial_json: 'ass", "n": 2}' }),
  { type: 'content_block_stop', index: 2 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 42 },
  },
  { type: 'message_stop' },
];
// The cut of EVENTS where a mid-stream attach happens: inside the text block.
const MIDDLE = 9;
const TEXT_DELTAS = ['The grass ', 'is ', 'green.'];
const OVERLOADED: StreamEvent = {
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
} as StreamEvent;

type When = 'absent' | 'before' | 'running' | 'ended';
const CONSUMERS = ['listeners', 'finalMessage', 'finalText', 'textStream', 'events'] as const;
type Consumer = (typeof CONSUMERS)[number];

/** A source that stops at MIDDLE until released, so that 'running' attaches in the middle. */
function gatedSource(fails: boolean) {
  let reachMiddle!: () => void;
  let release!: () => void;
  const middle = new Promise<void>((resolve) => {
    reachMiddle = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const factory = () => {
    calls++;
    return (async function* () {
      yield* EVENTS.slice(0, MIDDLE);
      reachMiddle();
      await gate;
      if (fails) {
        yield* EVENTS.slice(MIDDLE, MIDDLE + 2);
        yield OVERLOADED;
        return;
      }
      yield* EVENTS.slice(MIDDLE);
    })();
  };
  return { factory, middle, release, calls: () => calls };
}

interface Seen {
  events: StreamEvent[];
  texts: string[];
  messages: Message[];
  errors: unknown[];
  ends: number;
  failure?: unknown;
  final?: Message;
  finalText?: string;
}

/** Attaches one consumer; its result lands in `seen` once the returned promise settles. */
function attach(stream: MessageStream, consumer: Consumer, seen: Seen): Promise<void> {
  const fail = (error: unknown) => {
    seen.failure = error;
  };
  switch (consumer) {
    case 'listeners':
      stream
        .on('event', (event) => seen.events.push(event))
        .on('text', (text) => seen.texts.push(text))
        .on('message', (message) => seen.messages.push(message))
        .on('error', (error) => seen.errors.push(error))
        .on('end', () => seen.ends++);
      return stream.done();
    case 'finalMessage':
      return stream.finalMessage().then((message) => {
        seen.final = message;
      }, fail);
    case 'finalText':
      return stream.finalText().then((text) => {
        seen.finalText = text;
      }, fail);
    case 'textStream':
      return (async () => {
        for await (const text of stream.textStream) seen.texts.push(text);
      })().catch(fail);
    case 'events':
      return (async () => {
        for await (const event of stream) seen.events.push(event);
      })().catch(fail);
  }
}

async function run(plan: Record<Consumer, When>, fails: boolean) {
  const source = gatedSource(fails);
  const stream = new MessageStream(source.factory);
  const seen = Object.fromEntries(
    CONSUMERS.map((c) => [c, { events: [], texts: [], messages: [], errors: [], ends: 0 } as Seen]),
  ) as Record<Consumer, Seen>;
  const pending: Promise<void>[] = [];
  const attachAll = (when: When) => {
    for (const consumer of CONSUMERS)
      if (plan[consumer] === when) pending.push(attach(stream, consumer, seen[consumer]));
  };
  attachAll('before');
  // done() starts the stream (if no consumer did) without consuming anything itself.
  const done = stream.done();
  await source.middle;
  attachAll('running');
  source.release();
  await done;
  attachAll('ended');
  await Promise.all(pending);
  return { seen, calls: source.calls() };
}

const expected = await assembleMessage(EVENTS);

function check(plan: Record<Consumer, When>, seen: Record<Consumer, Seen>, fails: boolean) {
  for (const consumer of CONSUMERS) {
    const when = plan[consumer];
    if (when === 'absent') continue;
    const got = seen[consumer];
    const context = `${consumer} attached ${when}`;
    // Readers attached while the events are kept get exactly the events the model sent;
    // after the end they get the message's replay, which assembles to the same message.
    const exact = when !== 'ended';
    const streamed = fails ? EVENTS.slice(0, MIDDLE + 2) : EVENTS;
    const streamedTexts = fails ? TEXT_DELTAS.slice(0, 2) : TEXT_DELTAS;
    switch (consumer) {
      case 'listeners':
      case 'events':
        if (exact) expect(got.events, context).toEqual(streamed);
        else if (fails) expect(got.events, context).toEqual(replayEvents(partialOf(streamed), false));
        else expect(got.events, context).toEqual(replayEvents(expected));
        if (consumer === 'events') {
          if (fails) expect(got.failure, context).toBeInstanceOf(OverloadedError);
          else expect(got.failure, context).toBeUndefined();
          break;
        }
        expect(got.texts.join(''), context).toBe(streamedTexts.join(''));
        if (exact) expect(got.texts, context).toEqual(streamedTexts);
        expect(got.ends, context).toBe(1);
        expect(got.messages, context).toEqual(fails ? [] : [expected]);
        expect(got.errors.length, context).toBe(fails ? 1 : 0);
        if (fails) expect(got.errors[0], context).toBeInstanceOf(OverloadedError);
        break;
      case 'textStream':
        if (exact) expect(got.texts, context).toEqual(streamedTexts);
        else expect(got.texts.join(''), context).toBe(streamedTexts.join(''));
        if (fails) expect(got.failure, context).toBeInstanceOf(OverloadedError);
        else expect(got.failure, context).toBeUndefined();
        break;
      case 'finalMessage':
        if (fails) expect(got.failure, context).toBeInstanceOf(OverloadedError);
        else expect(got.final, context).toEqual(expected);
        break;
      case 'finalText':
        if (fails) expect(got.failure, context).toBeInstanceOf(OverloadedError);
        else expect(got.finalText, context).toBe('The grass is green.');
        break;
    }
  }
}

/** The message the events so far assemble to, as a failed stream keeps it. */
function partialOf(events: StreamEvent[]): Message {
  const assembler = new MessageAssembler();
  for (const event of events) assembler.apply(event);
  return assembler.message!;
}

/** Every plan: each consumer absent, attached before the start, while running, or after the end. */
function allPlans(): Array<Record<Consumer, When>> {
  const whens: When[] = ['absent', 'before', 'running', 'ended'];
  const plans: Array<Record<Consumer, When>> = [];
  for (let code = 1; code < whens.length ** CONSUMERS.length; code++) {
    const plan = {} as Record<Consumer, When>;
    let rest = code;
    for (const consumer of CONSUMERS) {
      plan[consumer] = whens[rest % whens.length]!;
      rest = Math.floor(rest / whens.length);
    }
    plans.push(plan);
  }
  return plans;
}

describe('MessageStream in any order', () => {
  it('every combination of consumers, each before the start, while running or after the end, sees the whole answer from one upstream call', async () => {
    const plans = allPlans();
    expect(plans).toHaveLength(1023);
    for (const plan of plans) {
      const { seen, calls } = await run(plan, false);
      check(plan, seen, false);
      expect(calls).toBe(1);
    }
  });

  it('the same when the stream fails midway: each consumer gets what came, then the typed error', async () => {
    for (const plan of allPlans()) {
      const { seen, calls } = await run(plan, true);
      check(plan, seen, true);
      expect(calls).toBe(1);
    }
  });

  it('each consumer attached at any event of the stream gets all of it (property)', async () => {
    const running = Object.fromEntries(CONSUMERS.map((consumer) => [consumer, 'running'])) as Record<
      Consumer,
      When
    >;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: EVENTS.length }), {
          minLength: CONSUMERS.length,
          maxLength: CONSUMERS.length,
        }),
        async (cuts) => {
          const seen = Object.fromEntries(
            CONSUMERS.map((c) => [c, { events: [], texts: [], messages: [], errors: [], ends: 0 } as Seen]),
          ) as Record<Consumer, Seen>;
          const pending: Promise<void>[] = [];
          const stream: MessageStream = new MessageStream(async function* () {
            for (let index = 0; index <= EVENTS.length; index++) {
              if (cuts.includes(index)) {
                // The events before this one have been handled by the time a macrotask runs.
                await new Promise((resolve) => setImmediate(resolve));
                CONSUMERS.forEach((consumer, at) => {
                  if (cuts[at] === index) pending.push(attach(stream, consumer, seen[consumer]));
                });
              }
              if (index < EVENTS.length) yield EVENTS[index]!;
            }
          });
          await stream.done();
          await Promise.all(pending);
          check(running, seen, false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a listener attached late gets each missed event with the snapshot it had then', async () => {
    const source = gatedSource(false);
    const stream = new MessageStream(source.factory);
    const done = stream.done();
    await source.middle;
    const snapshots: string[] = [];
    const partials: unknown[] = [];
    stream.on('text', (_delta, snapshot) => snapshots.push(snapshot));
    expect(snapshots).toEqual(['The grass ']);
    source.release();
    await done;
    expect(snapshots).toEqual(['The grass ', 'The grass is ', 'The grass is green.']);
    stream.on('inputJson', (_delta, partial) => partials.push(structuredClone(partial)));
    expect(partials).toEqual([{ q: 'grass', n: 2 }]);
  });

  it('a reader attached while running and then standing still holds the upstream back', async () => {
    let produced = 0;
    const events = [
      messageStart(),
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ...Array.from({ length: 500 }, (_, i) => delta(0, { type: 'text_delta', text: `${i} ` })),
      { type: 'content_block_stop', index: 0 },
      { type: 'message_stop' },
    ] as StreamEvent[];
    const stream = new MessageStream(async function* () {
      for (const event of events) {
        produced++;
        // A pause after the first events, for the reader to attach while the stream runs.
        if (produced === 5) await new Promise((resolve) => setImmediate(resolve));
        yield event;
      }
    });
    let seen = 0;
    stream.on('event', () => seen++);
    while (seen < 3) await new Promise((resolve) => setImmediate(resolve));
    const late = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(produced).toBeLessThan(45);
    let consumed = 0;
    while (!(await late.next()).done) consumed++;
    expect(consumed).toBe(events.length);
  });
});

describe('replayEvents', () => {
  it('assembles back to the message, for every fixture and for a partial message', async () => {
    for (const name of COMPLETE_FIXTURES) {
      const message = await MessageStream.fromSSE(iterableOf([fixture(name)])).finalMessage();
      expect(await assembleMessage(replayEvents(message)), name).toEqual(message);
    }
    expect(await assembleMessage(replayEvents(expected))).toEqual(expected);
    const partial = partialOf(EVENTS.slice(0, MIDDLE + 2));
    const replayed = new MessageAssembler();
    for (const event of replayEvents(partial, false)) replayed.apply(event);
    expect(replayed.message).toEqual(partial);
  });

  it('any split of a text into deltas replays as one delta with the same text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string(), { minLength: 1, maxLength: 12 }), async (pieces) => {
        const events: StreamEvent[] = [
          messageStart(),
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          ...pieces.map((text) => delta(0, { type: 'text_delta', text })),
          { type: 'content_block_stop', index: 0 },
          {
            type: 'message_delta',
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { output_tokens: 3 },
          },
          { type: 'message_stop' },
        ];
        const stream = new MessageStream(async function* () {
          yield* events;
        });
        const message = await stream.finalMessage();
        const late: string[] = [];
        for await (const text of stream.textStream) late.push(text);
        expect(late).toEqual(pieces.join('') === '' ? [] : [pieces.join('')]);
        expect(await assembleMessage(replayEvents(message))).toEqual(message);
      }),
      { numRuns: 100 },
    );
  });
});

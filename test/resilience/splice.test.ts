import { describe, expect, it } from 'vitest';
import { isBlock } from '../../src/protocol/content.ts';
import { isDelta, isEvent, type StreamEvent } from '../../src/protocol/events.ts';
import type { Message, Usage } from '../../src/protocol/message.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { addUsage } from '../../src/protocol/usage.ts';
import type { ProviderCapabilities } from '../../src/providers/types.ts';
import { planNextAttempt } from '../../src/resilience/plan.ts';
import { AttemptSplicer } from '../../src/resilience/splice.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { streamEventsOf } from '../../src/stream/decode-events.ts';
import { SseDecoder } from '../../src/stream/sse.ts';
import { fixture } from '../helpers/bytes.ts';

// The splicer on its own, on recorded answers cut before every event: whatever the cut, the
// consumer must end up with the message the uninterrupted answer gives. The resilient stream's
// tests drive it through a provider with a handful of drops; these walk every cut point of
// every kind of answer (text, tool use, thinking, citations, unknown events and blocks).

const TRANSCRIPTS = [
  'text.sse',
  'tool-use.sse',
  'thinking.sse',
  'citations.sse',
  'pings-comments-unknown.sse',
  'thinking-tool-use.sse',
  'web-search.sse',
  'code-execution.sse',
  'refusal.sse',
  'context-window.sse',
  'future-types.sse',
];

const REQUEST: MessageCreateParams = {
  model: 'test',
  max_tokens: 4096,
  messages: [{ role: 'user', content: 'Answer as recorded.' }],
};

const PREFILL: ProviderCapabilities = {
  prefill: true,
  tools: true,
  images: true,
  documents: true,
  thinking: true,
};
const NO_PREFILL: ProviderCapabilities = { ...PREFILL, prefill: false };

function transcript(name: string): StreamEvent[] {
  const decoder = new SseDecoder();
  return streamEventsOf([...decoder.decode(fixture(name)), ...decoder.finish()]);
}

function assemble(events: readonly StreamEvent[]): Message {
  const assembler = new MessageAssembler();
  for (const event of events) assembler.apply(event);
  return assembler.finish();
}

/** What the first attempt delivered before it broke off after `cut` upstream events. */
interface Interrupted {
  delivered: MessageAssembler;
  deliveredTokens: number;
  usage: Usage;
}

function interrupt(events: readonly StreamEvent[], cut: number): Interrupted {
  const delivered = new MessageAssembler();
  const splicer = new AttemptSplicer(delivered, { mode: 'fresh' }, { holdNonText: true, usageBase: zero() });
  let deliveredTokens = 0;
  for (const event of events.slice(0, cut)) {
    for (const out of splicer.accept(event)) {
      delivered.apply(out);
      if (out.type === 'content_block_delta') deliveredTokens++;
    }
  }
  return { delivered, deliveredTokens, usage: splicer.usage };
}

/** The second attempt: the spliced events the consumer receives, applied to what it has. */
function continueWith(first: Interrupted, plan: Parameters<typeof splicerFor>[1], answer: StreamEvent[]) {
  const splicer = splicerFor(first, plan);
  const spliced: StreamEvent[] = [];
  for (const event of answer) {
    for (const out of splicer.accept(event)) {
      first.delivered.apply(out);
      spliced.push(out);
    }
  }
  splicer.finish();
  return { message: first.delivered.finish(), spliced };
}

function splicerFor(first: Interrupted, plan: ConstructorParameters<typeof AttemptSplicer>[1]) {
  return new AttemptSplicer(first.delivered, plan, { holdNonText: true, usageBase: first.usage });
}

/**
 * How a deterministic model answers a request that ends in an assistant prefill: the recorded
 * answer without the prefill's text. Text blocks the prefill covers are gone, the block it ends
 * in keeps the rest of its deltas (the first one cut where the prefill ends), and the blocks
 * after it follow, renumbered from 0.
 */
function continuation(events: readonly StreamEvent[], prefill: string): StreamEvent[] {
  const renumber = new Map<number, number>();
  const out: StreamEvent[] = [];
  let next = 0;
  const keep = (index: number) => {
    let mapped = renumber.get(index);
    if (mapped === undefined) {
      mapped = next++;
      renumber.set(index, mapped);
    }
    return mapped;
  };
  // Which blocks the prefill covers entirely, and where it ends.
  const covered = new Set<number>();
  let endsIn: number | undefined;
  // The prefill's characters in the block it ends in.
  let toSkip = prefill.length;
  {
    const texts = new Map<number, string>();
    for (const event of events) {
      if (isEvent(event, 'content_block_delta') && isDelta(event.delta, 'text_delta')) {
        texts.set(event.index, (texts.get(event.index) ?? '') + event.delta.text);
      }
    }
    for (const [index, text] of [...texts].sort(([a], [b]) => a - b)) {
      if (toSkip <= 0) break;
      if (text.length <= toSkip) {
        covered.add(index);
        toSkip -= text.length;
      } else {
        endsIn = index;
        break;
      }
    }
  }
  for (const event of events) {
    if (isEvent(event, 'message_start')) {
      out.push({ ...event, message: { ...event.message, id: 'msg_second_attempt' } });
    } else if (isEvent(event, 'content_block_start') || isEvent(event, 'content_block_stop')) {
      if (!covered.has(event.index)) out.push({ ...event, index: keep(event.index) });
    } else if (isEvent(event, 'content_block_delta')) {
      if (covered.has(event.index)) continue;
      const { delta } = event;
      if (event.index === endsIn) {
        if (!isDelta(delta, 'text_delta')) continue; // its citations came with the prefilled text
        const text = delta.text.slice(toSkip);
        toSkip -= Math.min(toSkip, delta.text.length);
        if (text === '') continue;
        out.push({ ...event, index: keep(event.index), delta: { ...delta, text } });
      } else {
        out.push({ ...event, index: keep(event.index) });
      }
    } else {
      out.push(event);
    }
  }
  return out;
}

function zero(): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/** The usage the upstream reported over an answer: its latest counts. */
function reported(events: readonly StreamEvent[]): Usage {
  let usage = zero();
  for (const event of events) {
    if (isEvent(event, 'message_start')) usage = addUsage(zero(), event.message.usage);
    if (isEvent(event, 'message_delta')) {
      for (const [field, value] of Object.entries(event.usage ?? {})) {
        if (typeof value === 'number') usage[field] = value;
      }
    }
  }
  return usage;
}

/**
 * Whether the consumer's last block is open although it already holds all of its text, and
 * the uninterrupted answer goes on with another text block.
 */
function endedOpenBlock(delivered: MessageAssembler, whole: Message): boolean {
  const content = delivered.message?.content ?? [];
  const last = content.length - 1;
  const block = content[last];
  const complete = whole.content[last];
  const after = whole.content[last + 1];
  return (
    block !== undefined &&
    complete !== undefined &&
    after !== undefined &&
    isBlock(after, 'text') &&
    delivered.isOpen(last) &&
    isBlock(block, 'text') &&
    isBlock(complete, 'text') &&
    block.text === complete.text
  );
}

/** Content with adjacent text blocks joined: their text and citations, without the boundaries. */
function joinedText(content: Message['content']): unknown[] {
  const out: unknown[] = [];
  let text: { text: string; citations: unknown[] } | undefined;
  for (const block of content) {
    if (!isBlock(block, 'text')) {
      text = undefined;
      out.push(block);
      continue;
    }
    if (text === undefined) {
      text = { text: '', citations: [] };
      out.push(text);
    }
    text.text += block.text;
    text.citations.push(...(block.citations ?? []));
  }
  return out;
}

/** The token counts of a usage, which attempts add up (objects such as server_tool_use are the latest report). */
function countsOf(usage: Usage) {
  // An absent count is none: one attempt passes its counts on as the upstream reported them.
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
  };
}

function textOf(message: Message): string {
  return message.content.map((block) => (isBlock(block, 'text') ? block.text : '')).join('');
}

describe('AttemptSplicer on transcripts cut before every event', () => {
  for (const name of TRANSCRIPTS) {
    const events = transcript(name);
    const whole = assemble(events);

    it(`${name}: every cut, continued as the planner asks, gives the uninterrupted message`, () => {
      const modes = new Set<string>();
      for (let cut = 0; cut < events.length; cut++) {
        const first = interrupt(events, cut);
        const next = planNextAttempt(REQUEST, first.delivered, PREFILL, {
          resume: true,
          deliveredTokens: first.deliveredTokens,
        });
        if (next === undefined || next.plan.mode === 'finish')
          throw new Error(`no next attempt at cut ${cut}`);
        modes.add(next.plan.mode);
        const last = next.request?.messages.at(-1);
        const answer =
          next.plan.mode === 'resume' && last?.role === 'assistant' && typeof last.content === 'string'
            ? continuation(events, last.content)
            : events;
        // The prefill ends exactly where the open block's text does (no white space trimmed off).
        const joinsNext =
          next.plan.mode === 'resume' && next.plan.skip === '' && endedOpenBlock(first.delivered, whole);
        const deliveredBlocks = first.delivered.message?.content.length ?? 0;
        const { message, spliced } = continueWith(first, next.plan, answer);

        const context = `${name}, cut before event ${cut} (${next.plan.mode})`;
        expect(textOf(message), context).toBe(textOf(whole));
        if (joinsNext) {
          // The cut fell after a text block's last delta and before its stop. A prefill's
          // answer continues the prefill's block, so text the uninterrupted answer put in the
          // next text block joins this one: the same text and citations, one boundary fewer.
          expect(joinedText(message.content), context).toEqual(joinedText(whole.content));
          expect(message.content.length, context).toBe(whole.content.length - 1);
        } else {
          expect(message.content, context).toEqual(whole.content);
        }
        expect(message.stop_reason, context).toBe(whole.stop_reason);
        expect(message.id, context).toBe(whole.id);
        // One message_start over both attempts, and block indices that only ever count up.
        const starts = [...spliced, ...events.slice(0, cut)].filter((e) => e.type === 'message_start');
        expect(starts, context).toHaveLength(1);
        const blockStarts = spliced.filter((e) => isEvent(e, 'content_block_start'));
        expect(
          blockStarts.map((start) => start.index),
          context,
        ).toEqual(blockStarts.map((_, i) => deliveredBlocks + i));
        // Usage: the first attempt's (its latest report, or its content deltas if more: it
        // broke off before its final count) plus the second's.
        const received = events.slice(0, cut);
        const firstUsage = reported(received);
        firstUsage.output_tokens = Math.max(
          firstUsage.output_tokens,
          received.filter((e) => e.type === 'content_block_delta').length,
        );
        expect(countsOf(message.usage), context).toEqual(countsOf(addUsage(firstUsage, reported(answer))));
      }
      expect([...modes].sort(), name).toEqual(expectedModes(name));
    });
  }

  it('a provider without prefill restarts at every cut and still gives the uninterrupted message', () => {
    for (const name of TRANSCRIPTS) {
      const events = transcript(name);
      const whole = assemble(events);
      for (let cut = 0; cut < events.length; cut++) {
        const first = interrupt(events, cut);
        const next = planNextAttempt(REQUEST, first.delivered, NO_PREFILL, {
          resume: true,
          deliveredTokens: first.deliveredTokens,
        });
        if (next === undefined || next.plan.mode === 'finish')
          throw new Error(`no next attempt at cut ${cut}`);
        expect(['fresh', 'restart']).toContain(next.plan.mode);
        const { message } = continueWith(first, next.plan, events);
        expect(message.content, `${name}, cut before event ${cut}`).toEqual(whole.content);
      }
    }
  });
});

function expectedModes(name: string): string[] {
  // A transcript that starts with thinking has no text-only prefix to resume from.
  const opensWithoutText = [
    'thinking.sse',
    'thinking-tool-use.sse',
    'code-execution.sse',
    'future-types.sse',
  ];
  return opensWithoutText.includes(name) ? ['fresh', 'restart'] : ['fresh', 'restart', 'resume'];
}

describe('events of kinds this version does not know, across a restart', () => {
  it('reach the consumer once each, wherever the first attempt broke off', () => {
    const events = transcript('future-types.sse');
    const unknown = (list: readonly StreamEvent[]) =>
      list.filter((event) => event.type === 'future_progress');
    expect(unknown(events)).toHaveLength(1);
    for (let cut = 0; cut < events.length; cut++) {
      const first = interrupt(events, cut);
      const next = planNextAttempt(REQUEST, first.delivered, NO_PREFILL, {
        resume: true,
        deliveredTokens: first.deliveredTokens,
      });
      if (next === undefined || next.plan.mode === 'finish') throw new Error(`no next attempt at cut ${cut}`);
      const { spliced } = continueWith(first, next.plan, events);
      const seen = [...unknown(events.slice(0, cut)), ...unknown(spliced)];
      expect(seen, `cut before event ${cut} (${next.plan.mode})`).toHaveLength(1);
    }
  });
});

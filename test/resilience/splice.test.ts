import { describe, expect, it } from 'vitest';
import type { ContentBlock, TextBlock } from '../../src/protocol/content.ts';
import { StreamInterruptedError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { emptyUsage, type Message } from '../../src/protocol/message.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { planNextAttempt } from '../../src/resilience/plan.ts';
import { AttemptSplicer } from '../../src/resilience/splice.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { messageStart } from '../helpers/events.ts';

// The splicer alone, on whole transcripts cut after every event: the first attempt delivers
// what came before the cut, the plan picks resume or restart, and a second attempt answers as
// a model would (a continuation of the prefill, or the same answer again). Whatever the cut,
// the consumer must see one message_start and exactly the uncut answer, usage summed.

const CAPABILITIES = { prefill: true, tools: true, images: true, documents: true, thinking: true };
const original: MessageCreateParams = {
  model: 'm',
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'Tell me a story.' }],
};

type BlockScript = { text: string[] } | { tool: string; json: string[] };

/** The events of an answer made of these blocks, with pings between some of them. */
function transcript(blocks: BlockScript[], id = 'msg_first'): StreamEvent[] {
  const events: StreamEvent[] = [messageStart(id, { input_tokens: 12, output_tokens: 1 })];
  let deltas = 0;
  blocks.forEach((block, index) => {
    if ('text' in block) {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const text of block.text) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
        deltas++;
      }
    } else {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: `toolu_${index}`, name: block.tool, input: {} },
      });
      events.push({ type: 'ping' });
      for (const partial_json of block.json) {
        events.push({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json },
        });
        deltas++;
      }
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push(
    {
      type: 'message_delta',
      delta: { stop_reason: blocks.some((b) => 'tool' in b) ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: deltas },
    },
    { type: 'message_stop' },
  );
  return events;
}

/**
 * What a model asked to continue `prefill` sends: the rest of the answer's text (which begins
 * with any white space the trimmed prefill lost), in 3-character deltas, then its other blocks.
 */
function continuation(blocks: BlockScript[], prefill: string): StreamEvent[] {
  const full = blocks.flatMap((block) => ('text' in block ? block.text : [])).join('');
  expect(full.startsWith(prefill)).toBe(true);
  const chunks = full.slice(prefill.length).match(/[\s\S]{1,3}/g) ?? [];
  return transcript([{ text: chunks }, ...blocks.filter((block) => !('text' in block))], 'msg_resumed');
}

function assemble(events: StreamEvent[]): Message {
  const assembler = new MessageAssembler();
  for (const event of events) assembler.apply(event);
  expect(assembler.isComplete).toBe(true);
  return assembler.message!;
}

const textOf = (content: ContentBlock[]) =>
  content
    .filter((block) => block.type === 'text')
    .map((block) => (block as TextBlock).text)
    .join('');

/** Cuts `events` after `cut` of them and splices a second attempt; returns the consumer's events. */
function breakAndResume(blocks: BlockScript[], cut: number, again?: BlockScript[]) {
  const events = transcript(blocks);
  const delivered = new MessageAssembler();
  const consumer: StreamEvent[] = [];
  const deliver = (splicer: AttemptSplicer, upstream: StreamEvent[]) => {
    for (const event of upstream) {
      for (const out of splicer.accept(event)) {
        delivered.apply(out);
        consumer.push(out);
      }
    }
  };
  const first = new AttemptSplicer(
    delivered,
    { mode: 'fresh' },
    { holdNonText: true, usageBase: emptyUsage() },
  );
  deliver(first, events.slice(0, cut));
  expect(() => first.finish()).toThrow(); // cut before message_stop: retryable

  const deliveredTokens = consumer.filter((event) => event.type === 'content_block_delta').length;
  const next = planNextAttempt(original, delivered, CAPABILITIES, { resume: true, deliveredTokens });
  if (!next || next.plan.mode === 'finish') throw new Error(`no next attempt after ${cut} events`);
  const second =
    next.plan.mode === 'resume'
      ? continuation(blocks, next.request!.messages.at(-1)!.content as string)
      : transcript(again ?? blocks, 'msg_again');
  const splicer = new AttemptSplicer(delivered, next.plan, { holdNonText: true, usageBase: first.usage });
  deliver(splicer, second);
  splicer.finish();
  return { consumer, mode: next.plan.mode, usage: { first: first.usage, second: splicer.usage } };
}

const TRANSCRIPTS: Record<string, BlockScript[]> = {
  // White space at the ends of deltas, where a resumed prefill is trimmed.
  'one text block': [{ text: ['Once', ' upon', ' a ', 'time,', '  ', 'there', ' was', ' a sluice.'] }],
  'two text blocks': [{ text: ['Hello ', 'there. '] }, { text: ['A second ', 'block.'] }],
  'text then a tool call': [
    { text: ['Let me ', 'look ', 'that up. '] },
    { tool: 'weather', json: ['{"ci', 'ty": "Pa', 'ris", "unit"', ': "c"}'] },
  ],
};

describe('AttemptSplicer, on transcripts cut after every event', () => {
  for (const [name, blocks] of Object.entries(TRANSCRIPTS)) {
    it(`${name}: the consumer sees the uncut answer, once`, () => {
      const events = transcript(blocks);
      const expected = assemble(events);
      const modes = new Set<string>();
      for (let cut = 1; cut < events.length - 1; cut++) {
        const { consumer, mode, usage } = breakAndResume(blocks, cut);
        modes.add(mode);
        const where = `${name}, cut after ${cut} events (${mode})`;
        expect(
          consumer.filter((event) => event.type === 'message_start'),
          where,
        ).toHaveLength(1);
        const message = assemble(consumer);
        if (mode === 'resume') {
          // A continuation arrives as text in the open block: the same characters, exactly,
          // and the blocks after the text as they were.
          expect(textOf(message.content), where).toBe(textOf(expected.content));
          const notText = (content: ContentBlock[]) => content.filter((block) => block.type !== 'text');
          expect(notText(message.content), where).toEqual(notText(expected.content));
        } else {
          expect(message.content, where).toEqual(expected.content);
        }
        expect(message.stop_reason, where).toBe(expected.stop_reason);
        expect(message.usage.output_tokens, where).toBe(
          usage.first.output_tokens + usage.second.output_tokens,
        );
      }
      // Text-only answers resume; once a tool call is complete, only a restart can continue.
      if (blocks.every((block) => 'text' in block)) expect(modes).toContain('resume');
      else expect(modes).toEqual(new Set(['fresh', 'resume', 'restart']));
    });
  }

  it('ends with StreamInterruptedError when a restarted answer differs from what was delivered', () => {
    const blocks = TRANSCRIPTS['text then a tool call']!;
    const events = transcript(blocks);
    const afterTool = events.findLastIndex((event) => event.type === 'content_block_stop') + 1;
    const different = [{ text: ['Let me ', 'check ', 'that. '] }, blocks[1]!];
    expect(() => breakAndResume(blocks, afterTool, different)).toThrow(StreamInterruptedError);
  });
});

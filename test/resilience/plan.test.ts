import { describe, expect, it } from 'vitest';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { planNextAttempt } from '../../src/resilience/plan.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { textMessageEvents } from '../helpers/events.ts';

const PREFILL_AND_TOOLS = { prefill: true, tools: true, images: true, documents: true, thinking: true };

/** An assembler holding what a consumer got before the stream broke: the start of a text block. */
function deliveredText(...deltas: string[]): MessageAssembler {
  const assembler = new MessageAssembler();
  // message_start, the block's start and its deltas; the stop never came.
  for (const event of textMessageEvents(deltas).slice(0, 2 + deltas.length)) assembler.apply(event);
  return assembler;
}

const question = { role: 'user' as const, content: 'Tell me a story.' };

describe('planNextAttempt', () => {
  it('extends a caller’s prefill given as text blocks, and shortens max_tokens by what was delivered', () => {
    const original: MessageCreateParams = {
      model: 'm',
      max_tokens: 10,
      messages: [
        question,
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Once ' },
            { type: 'text', text: 'upon' },
          ],
        },
      ],
    };
    const next = planNextAttempt(original, deliveredText(' a', ' time '), PREFILL_AND_TOOLS, {
      resume: true,
      deliveredTokens: 2,
    });
    expect(next).toEqual({
      plan: { mode: 'resume', skip: ' ' },
      request: {
        ...original,
        messages: [question, { role: 'assistant', content: 'Once upon a time' }],
        max_tokens: 8,
      },
    });
  });

  it('asks again from the start when the caller’s last assistant turn holds more than text', () => {
    const original: MessageCreateParams = {
      model: 'm',
      max_tokens: 10,
      messages: [
        question,
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'look', input: {} }] },
      ],
    };
    expect(
      planNextAttempt(original, deliveredText('Once'), PREFILL_AND_TOOLS, {
        resume: true,
        deliveredTokens: 1,
      }),
    ).toEqual({ plan: { mode: 'restart' }, request: original });
  });

  it('asks again from the start when all there is to extend is white space', () => {
    const original: MessageCreateParams = { model: 'm', max_tokens: 10, messages: [question] };
    expect(
      planNextAttempt(original, deliveredText('  '), PREFILL_AND_TOOLS, { resume: true, deliveredTokens: 1 }),
    ).toEqual({ plan: { mode: 'restart' }, request: original });
  });
});

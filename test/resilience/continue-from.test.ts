import { describe, expect, it } from 'vitest';
import { StreamInterruptedError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { resilientStream } from '../../src/resilience/resilient-stream.ts';
import { textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

const REQUEST: MessageCreateParams = {
  model: 'test',
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'Tell me something.' }],
};
const WORDS = ['The', ' river', ' runs', ' to', ' the', ' sea', ' at', ' last.'];

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

function textOf(events: readonly StreamEvent[]): string {
  return events
    .filter((e) => e.type === 'content_block_delta')
    .map((e) => (e as { delta: { type: string; text?: string } }).delta)
    .filter((delta) => delta.type === 'text_delta')
    .map((delta) => delta.text)
    .join('');
}

function finalUsage(events: readonly StreamEvent[]): { input_tokens: number; output_tokens: number } {
  const delta = events.findLast((e) => e.type === 'message_delta');
  return (delta as unknown as { usage: { input_tokens: number; output_tokens: number } }).usage;
}

/** `continueFrom`: a call that continues events another producer delivered (a gateway takeover). */
describe('resilientStream continueFrom', () => {
  const whole = textMessageEvents(WORDS, { outputTokens: 8 });
  // message_start, block start and three words: what the dead producer logged.
  const delivered = whole.slice(0, 5);

  it('continues by prefill: no second message_start, the same block, the exact text, usage summed', async () => {
    const provider = new ScriptedProvider([
      { events: textMessageEvents(WORDS.slice(3), { outputTokens: 5 }) },
    ]);
    const events = await collect(resilientStream(provider, REQUEST, { continueFrom: delivered }));

    expect(provider.requests[0]!.messages.at(-1)).toEqual({ role: 'assistant', content: 'The river runs' });
    expect(provider.requests[0]!.max_tokens).toBe(1000 - 3);
    expect(events.some((event) => event.type === 'message_start')).toBe(false);
    expect(events.some((event) => event.type === 'content_block_start')).toBe(false);
    expect(textOf([...delivered, ...events])).toBe(WORDS.join(''));
    // Three tokens delivered before, five after: eight, as the uninterrupted answer.
    expect(finalUsage(events).output_tokens).toBe(8);
    expect(finalUsage(events).input_tokens).toBe(20);
  });

  it('continues by restart-and-skip when the provider takes no prefill', async () => {
    const provider = new ScriptedProvider([{ events: whole }], { prefill: false });
    const events = await collect(resilientStream(provider, REQUEST, { continueFrom: delivered }));

    expect(provider.requests[0]!.messages).toEqual(REQUEST.messages);
    expect(events.some((event) => event.type === 'message_start')).toBe(false);
    expect(textOf([...delivered, ...events])).toBe(WORDS.join(''));
    expect(events.at(-1)?.type).toBe('message_stop');
  });

  it('refuses, without asking the model, events that end inside a tool call', async () => {
    const provider = new ScriptedProvider([{ events: whole }]);
    const halfTool: StreamEvent[] = [
      whole[0]!,
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"q":' } },
    ];
    await expect(
      collect(resilientStream(provider, REQUEST, { continueFrom: halfTool })),
    ).rejects.toBeInstanceOf(StreamInterruptedError);
    expect(provider.requests).toHaveLength(0);
  });
});

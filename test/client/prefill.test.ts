import { describe, expect, it } from 'vitest';
import { withPrefill } from '../../src/client/prefill.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { eventsOf, messageStart } from '../helpers/events.ts';

async function spliced(prefill: string, events: StreamEvent[]): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of withPrefill(eventsOf(events), prefill)) out.push(event);
  return out;
}

const start = (index: number, block: object) =>
  ({ type: 'content_block_start', index, content_block: block }) as StreamEvent;
const delta = (index: number, value: object) =>
  ({ type: 'content_block_delta', index, delta: value }) as StreamEvent;
const text = (index: number, value: string) => delta(index, { type: 'text_delta', text: value });
const stop = (index: number) => ({ type: 'content_block_stop', index }) as StreamEvent;
const ending: StreamEvent[] = [
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 3 },
  },
  { type: 'message_stop' },
];

describe('withPrefill', () => {
  it('puts the prefill in a text block of its own when the model starts with something else, shifting the rest', async () => {
    const thinking = { type: 'thinking', thinking: '', signature: '' };
    const events = await spliced('Yes, ', [
      messageStart(),
      start(0, thinking),
      delta(0, { type: 'thinking_delta', thinking: 'hmm' }),
      stop(0),
      start(1, { type: 'text', text: '' }),
      text(1, ' indeed'),
      stop(1),
      ...ending,
    ]);
    expect(events).toEqual([
      messageStart(),
      start(0, { type: 'text', text: '' }),
      text(0, 'Yes, '),
      stop(0),
      start(1, thinking),
      delta(1, { type: 'thinking_delta', thinking: 'hmm' }),
      stop(1),
      start(2, { type: 'text', text: '' }),
      // The prefill's block is closed: the white space here is the model's own, and kept.
      text(2, ' indeed'),
      stop(2),
      ...ending,
    ]);
  });

  it('drops the white space the continuation repeats, across deltas, and nothing more', async () => {
    const events = await spliced('Well,  ', [
      messageStart(),
      start(0, { type: 'text', text: '' }),
      text(0, ' '),
      text(0, ' ok'),
      text(0, ' then'),
      stop(0),
      ...ending,
    ]);
    expect(events).toEqual([
      messageStart(),
      start(0, { type: 'text', text: '' }),
      text(0, 'Well,  '),
      text(0, 'ok'),
      text(0, ' then'),
      stop(0),
      ...ending,
    ]);
  });

  it('answers the prefill alone when the model adds nothing', async () => {
    const events = await spliced('Done.', [messageStart(), ...ending]);
    expect(events).toEqual([
      messageStart(),
      start(0, { type: 'text', text: '' }),
      text(0, 'Done.'),
      stop(0),
      ...ending,
    ]);
  });
});

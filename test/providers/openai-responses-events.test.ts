import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContentBlock } from '../../src/protocol/content.ts';
import {
  encodeResponsesEvent,
  ResponsesEncoder,
} from '../../src/providers/openai-responses/server/events.ts';
import { outputOf, type ResponsesWireOptions } from '../../src/providers/openai-responses/server/output.ts';
import type { ResponsesOutputItem, ResponsesStreamEvent } from '../../src/providers/openai-responses/wire.ts';
import { responsesWire } from '../../src/server/durable/wire.ts';
import { encodeBatch } from '../../src/server/streams/entry.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { blockSpec, eventsOf } from '../helpers/canonical-arbitraries.ts';
import { messageStart } from '../helpers/events.ts';

const OPTIONS: ResponsesWireOptions = { id: 'resp_prop', createdAt: 1_700_000_000, model: 'm', echo: {} };

/** A client's view: the output items assembled from the deltas, checked against each item's done event. */
function assembleOutput(events: ResponsesStreamEvent[]): ResponsesOutputItem[] {
  const output: ResponsesOutputItem[] = [];
  const texts = new Map<number, string>();
  for (const event of events) {
    const index = event.output_index as number;
    if (event.type === 'response.output_item.added') texts.set(index, '');
    if (
      event.type === 'response.output_text.delta' ||
      event.type === 'response.reasoning_summary_text.delta' ||
      event.type === 'response.function_call_arguments.delta'
    ) {
      texts.set(index, (texts.get(index) ?? '') + (event.delta as string));
    }
    if (event.type === 'response.output_item.done') {
      const item = event.item as ResponsesOutputItem;
      const streamed = texts.get(index);
      if (item.type === 'message') expect(item.content[0]?.text).toBe(streamed);
      if (item.type === 'reasoning') expect(item.summary[0]?.text).toBe(streamed);
      if (item.type === 'function_call')
        expect(JSON.parse(item.arguments)).toEqual(JSON.parse(streamed || '{}'));
      output[index] = item;
    }
  }
  return output;
}

describe('canonical events as Responses events', () => {
  it('any stream: sequence numbers 0, 1, 2, …; the assembled output equals the canonical message’s', () => {
    fc.assert(
      fc.property(
        fc.array(blockSpec, { maxLength: 5 }),
        fc.constantFrom('end_turn', 'tool_use', 'max_tokens'),
        (blocks, stopReason) => {
          const events = eventsOf(blocks, stopReason);
          const encoder = new ResponsesEncoder(OPTIONS);
          const encoded = events.flatMap((event) => encoder.apply(event));
          expect(encoded.map((event) => event.sequence_number)).toEqual(encoded.map((_, i) => i));

          const assembler = new MessageAssembler();
          for (const event of events) assembler.apply(event);
          const message = assembler.finish();
          const expected = outputOf(message, OPTIONS.id);
          expect(assembleOutput(encoded)).toEqual(expected);
          const final = encoded.at(-1);
          if (!final) throw new Error('no events');
          expect(final.type).toBe(stopReason === 'max_tokens' ? 'response.incomplete' : 'response.completed');
          expect((final.response as { output: unknown }).output).toEqual(expected);
          expect(encoder.response.output).toEqual(expected);
        },
      ),
    );
  });

  it('the wire’s bytes do not depend on how the log batched the events, and starting_after N gives exactly the events after N', () => {
    fc.assert(
      fc.property(
        fc.array(blockSpec, { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.nat(),
        (blocks, cuts, after) => {
          const events = eventsOf(blocks, 'end_turn');
          const whole = new ResponsesEncoder(OPTIONS);
          const all = events.flatMap((event) => whole.apply(event));
          const startingAfter = after % (all.length + 1);
          const expected = all
            .filter((event) => event.sequence_number > startingAfter)
            .map(encodeResponsesEvent)
            .join('');

          const wire = responsesWire(OPTIONS, startingAfter);
          const bounds = [...new Set(cuts.map((cut) => cut % events.length))].sort((a, b) => a - b);
          let text = '';
          let from = 0;
          for (const bound of [...bounds, events.length]) {
            if (bound <= from) continue;
            const batch = events.slice(from, bound);
            text += wire.encode(encodeBatch(from + 1, batch), batch);
            from = bound;
          }
          expect(text).toBe(expected);
        },
      ),
    );
  });

  it('a failure: the error event, then response.failed with the items done before it', () => {
    const encoder = new ResponsesEncoder(OPTIONS);
    const events = eventsOf([{ kind: 'text', pieces: ['Hel', 'lo'] }], 'end_turn').slice(0, 5);
    const before = events.flatMap((event) => encoder.apply(event));
    const failure = encoder.apply({ type: 'error', error: { type: 'overloaded_error', message: 'Busy.' } });
    expect(failure.map(({ type, sequence_number }) => ({ type, sequence_number }))).toEqual([
      { type: 'error', sequence_number: before.length },
      { type: 'response.failed', sequence_number: before.length + 1 },
    ]);
    expect(failure[0]).toMatchObject({ code: 'overloaded_error', message: 'Busy.', param: null });
    expect(failure[1]?.response).toMatchObject({
      status: 'failed',
      error: { code: 'server_error', message: 'Busy.' },
      output: [{ type: 'message', content: [{ type: 'output_text', text: 'Hello' }] }],
    });
    expect(encoder.apply({ type: 'message_stop' })).toEqual([]);
  });
});

// Blocks the Responses API has no item for are left out, and the output indices stay dense.
describe('outputOf', () => {
  it('skips server tools’ blocks and numbers the items it keeps', () => {
    const content = [
      { type: 'server_tool_use', id: 's1', name: 'web_search', input: {} },
      { type: 'text', text: 'Hi' },
      { type: 'redacted_thinking', data: 'xyz' },
    ] as ContentBlock[];
    const message = { ...(messageStart() as { message: object }).message, content } as never;
    expect(outputOf(message, 'resp_x')).toEqual([
      {
        id: 'msg_x_0',
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Hi', annotations: [] }],
      },
      { id: 'rs_x_1', type: 'reasoning', summary: [], encrypted_content: 'redacted:xyz' },
    ]);
  });
});

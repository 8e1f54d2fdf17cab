import fc from 'fast-check';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { messageStart } from './events.ts';

// Canonical streams for property tests of the translations: any mix of text, thinking and tool
// blocks, their deltas cut anywhere.

// A block of the canonical message, with the pieces its deltas come in.
export type BlockSpec =
  | { kind: 'text'; pieces: string[] }
  | { kind: 'thinking'; pieces: string[]; signature: string }
  | { kind: 'tool'; input: Record<string, number | string>; cuts: number[] };

export const blockSpec: fc.Arbitrary<BlockSpec> = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), pieces: fc.array(fc.string(), { maxLength: 5 }) }),
  fc.record({
    kind: fc.constant('thinking' as const),
    pieces: fc.array(fc.string(), { maxLength: 5 }),
    signature: fc.string({ minLength: 1 }),
  }),
  fc.record({
    kind: fc.constant('tool' as const),
    input: fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string()), { maxKeys: 3 }),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
  }),
);

/** The canonical events of a message with these blocks, its deltas cut where the spec says. */
export function eventsOf(blocks: BlockSpec[], stopReason: string): StreamEvent[] {
  const events: StreamEvent[] = [messageStart('msg_prop', { input_tokens: 7, output_tokens: 1 })];
  blocks.forEach((block, index) => {
    if (block.kind === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const text of block.pieces) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      }
    } else if (block.kind === 'thinking') {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const thinking of block.pieces) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
      }
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: block.signature },
      });
    } else {
      const json = JSON.stringify(block.input);
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: `toolu_${index}`, name: `tool${index}`, input: {} },
      });
      const cuts = [...new Set(block.cuts.map((cut) => cut % (json.length + 1)))].sort((a, b) => a - b);
      let from = 0;
      for (const cut of [...cuts, json.length]) {
        if (cut > from) {
          events.push({
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: json.slice(from, cut) },
          });
        }
        from = Math.max(from, cut);
      }
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: 20 },
  });
  events.push({ type: 'message_stop' });
  return events;
}

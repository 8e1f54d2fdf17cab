import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OverloadedError, ProtocolError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { emptyUsage } from '../../src/protocol/message.ts';
import { PassThroughSplicer } from '../../src/resilience/pass-through.ts';
import { AttemptSplicer } from '../../src/resilience/splice.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { parseStreamEvent } from '../../src/stream/decode-events.ts';
import { type SseBlock, SseBlockSplitter } from '../../src/stream/sse-blocks.ts';
import { blockSpec, eventsOf } from '../helpers/canonical-arbitraries.ts';

/** The events as Anthropic's API sends them. */
function sseOf(events: readonly StreamEvent[]): string {
  return events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join('');
}

/** The texts the pass-through forwards for `text` cut into `chunks`, as events, and what it threw. */
function passThrough(chunks: readonly string[], holdNonText = true) {
  const splitter = new SseBlockSplitter();
  const splicer = new PassThroughSplicer({ holdNonText });
  const texts: string[] = [];
  const blocks: SseBlock[] = [];
  let error: unknown;
  try {
    for (const chunk of chunks) {
      blocks.length = 0;
      splitter.push(chunk, blocks);
      for (const block of blocks) splicer.accept(block, texts);
    }
    blocks.length = 0;
    splitter.finish(blocks);
    for (const block of blocks) splicer.accept(block, texts);
  } catch (caught) {
    error = caught;
  }
  const events = texts.map((text) => {
    const [event, data] = text.split('\n');
    return parseStreamEvent({ event: event!.slice('event: '.length), data: data!.slice('data: '.length) })!;
  });
  return { events, texts, error, splicer };
}

/** What the full splicer delivers for a first attempt. */
function fullPath(events: readonly StreamEvent[], holdNonText = true): StreamEvent[] {
  const splicer = new AttemptSplicer(
    new MessageAssembler(),
    { mode: 'fresh' },
    { holdNonText, usageBase: emptyUsage() },
  );
  return events.flatMap((event) => splicer.accept(event));
}

function chunksOf(text: string, places: number[]): string[] {
  const at = [...new Set(places.map((place) => place % (text.length + 1)))].sort((a, b) => a - b);
  return [...at, text.length].map((place, i, all) => text.slice(i === 0 ? 0 : all[i - 1], place));
}

describe('PassThroughSplicer', () => {
  it('forwards what the full splicer delivers, in the same order, however the text is chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(blockSpec, { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        (blocks, places, holdNonText) => {
          const events = eventsOf(blocks, 'end_turn');
          const result = passThrough(chunksOf(sseOf(events), places), holdNonText);
          expect(result.error).toBeUndefined();
          expect(result.events).toEqual(fullPath(events, holdNonText));
          expect(result.splicer.sawMessageStop).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('forwards the upstream’s own text for every event in the API’s form, re-encoding none', () => {
    const events = eventsOf([{ kind: 'text', pieces: ['Hé', ' "there"'] }], 'end_turn');
    const text = sseOf(events);
    const { texts } = passThrough([text]);
    expect(`${texts.join('\n\n')}\n\n`).toBe(text);
  });

  it('holds a tool call until its stop while resume is on: cut inside it, the client has none of it', () => {
    const events = eventsOf(
      [
        { kind: 'text', pieces: ['Adding.'] },
        { kind: 'tool', input: { a: 1, b: 2 }, cuts: [3, 7] },
      ],
      'tool_use',
    );
    const text = sseOf(events);
    const insideTool = text.indexOf('input_json_delta') + 10;
    const { events: forwarded, splicer } = passThrough([text.slice(0, insideTool)]);
    expect(forwarded.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
    ]);
    expect(splicer.sawMessageStop).toBe(false);
  });

  it('an error event throws its typed error, after the events before it', () => {
    const events = eventsOf([{ kind: 'text', pieces: ['Hi'] }], 'end_turn').slice(0, 3);
    const text = `${sseOf(events)}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`;
    const { events: forwarded, error } = passThrough([text]);
    expect(forwarded).toEqual(events);
    expect(error).toBeInstanceOf(OverloadedError);
  });

  it('a stream it cannot forward as the full path would is a ProtocolError, for the full path to continue', () => {
    const start = sseOf(eventsOf([], 'end_turn').slice(0, 1));
    for (const odd of [
      'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n',
      'event: message_start\ndata: {"type":"message_start","message":{}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"\n\n',
    ]) {
      expect(passThrough([start + odd]).error, odd).toBeInstanceOf(ProtocolError);
    }
  });

  it('counts usage as the full splicer does: the upstream’s, or the deltas passed if it broke off', () => {
    const events = eventsOf([{ kind: 'text', pieces: ['a', 'b', 'c'] }], 'end_turn');
    const whole = passThrough([sseOf(events)]).splicer.usage;
    expect(whole).toMatchObject({ input_tokens: 7, output_tokens: 20 });
    const cutShort = passThrough([sseOf(events.slice(0, 5))]).splicer.usage;
    expect(cutShort).toMatchObject({ input_tokens: 7, output_tokens: 3 });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkEntry,
  encodeBatch,
  entryAfter,
  InvalidLogEntryError,
} from '../../../src/server/streams/index.ts';
import { SseDecoder } from '../../../src/stream/sse.ts';
import { delta } from './contract.ts';

describe('log entries', () => {
  it('are the SSE a relay writes: ids from first, one event per id, decodable back to the events', () => {
    const events = [delta('a\n\nb'), delta('é 🙂'), { type: 'content_block_stop' as const, index: 0 }];
    const entry = encodeBatch(7, events);
    expect(entry.first).toBe(7);
    expect(entry.last).toBe(9);
    expect(entry.data.startsWith('id: 7\nevent: content_block_delta\ndata: {')).toBe(true);
    const decoded = new SseDecoder().decode(new TextEncoder().encode(entry.data));
    expect(decoded.map((event) => [event.id, event.event, JSON.parse(event.data)])).toEqual(
      events.map((event, i) => [String(7 + i), event.type, event]),
    );
    expect(() => checkEntry(entry)).not.toThrow();
  });

  it('property: cutting after any id leaves exactly the later events', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (first, texts, pick) => {
          const entry = encodeBatch(first, texts.map(delta));
          const after = first - 1 + (pick % (texts.length + 1));
          const cut = entryAfter(entry, after);
          const later = encodeBatch(after + 1, texts.slice(after + 1 - first).map(delta));
          if (after === entry.last) expect(cut.data).toBe('');
          else expect(cut).toEqual(later);
        },
      ),
    );
  });

  it('refuses ids out of order and text that is not one event per id', () => {
    const entry = encodeBatch(1, [delta('x'), delta('y')]);
    expect(() => checkEntry({ ...entry, first: 0, last: 1 })).toThrow(InvalidLogEntryError);
    expect(() => checkEntry({ ...entry, last: 0 })).toThrow(InvalidLogEntryError);
    expect(() => checkEntry({ ...entry, last: 3 })).toThrow(InvalidLogEntryError);
    expect(() => checkEntry({ ...entry, data: entry.data.slice(0, -1) })).toThrow(InvalidLogEntryError);
    expect(() => checkEntry({ ...entry, first: 1.5 })).toThrow(InvalidLogEntryError);
  });
});

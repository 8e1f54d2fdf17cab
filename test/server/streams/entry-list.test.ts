import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryList } from '../../../src/server/streams/entry-list.ts';
import type { LogEntry } from '../../../src/server/streams/types.ts';

/**
 * Entries of 1..n events each, ids contiguous from 1, as a producer appends them; text of any
 * code units (curly quotes, emoji, lone surrogates), since an ended stream's is kept packed.
 */
const anyUnit = fc.oneof(
  fc.constant('“'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
);
const entriesArbitrary = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.string({ unit: anyUnit })), { maxLength: 30 })
  .chain((batches) =>
    fc.integer({ min: 1, max: 2 ** 40 }).map((start) => {
      let next = start;
      return batches.map(([events, text]): LogEntry => {
        const first = next;
        next += events;
        return { first, last: next - 1, data: `${text}|${first}-${next - 1}\n\n` };
      });
    }),
  );

const readAll = (list: EntryList) => {
  const view = list.view();
  return Array.from({ length: view.length }, (_, index) => view.at(index));
};

/** A 64-event answer of the bench's shape, with a character past Latin-1 as the simulator's has. */
function answer(): LogEntry[] {
  return Array.from({ length: 64 }, (_, index) => ({
    first: index + 1,
    last: index + 1,
    data: `id: ${index + 1}\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"“word ${index}”"}}\n\n`,
  }));
}

describe('EntryList', () => {
  it('reads back the same entries, boundaries and all, before and after it is sealed (property)', () => {
    fc.assert(
      fc.property(entriesArbitrary, fc.integer({ min: 0, max: 130 }), (entries, offset) => {
        const after = (entries[0]?.first ?? 1) - 1 + offset;
        const list = new EntryList();
        for (const entry of entries) list.push(entry);
        const before = {
          all: readAll(list),
          lastSeq: list.lastSeq,
          firstAfter: list.view().firstAfter(after),
        };
        list.seal();
        expect(readAll(list)).toEqual(entries);
        expect(before.all).toEqual(entries);
        expect(list.length).toBe(entries.length);
        expect(list.lastSeq).toBe(before.lastSeq);
        expect(list.lastSeq).toBe(entries.at(-1)?.last ?? 0);
        expect(list.view().firstAfter(after)).toBe(before.firstAfter);
        expect(list.view().firstAfter(after)).toBe(
          entries.findIndex((entry) => entry.last > after) === -1
            ? entries.length
            : entries.findIndex((entry) => entry.last > after),
        );
      }),
    );
  });

  it('keeps an ended answer deflated, a tenth of its text or less', () => {
    const list = new EntryList();
    const entries = answer();
    for (const entry of entries) list.push(entry);
    list.seal();
    const kept = (list as unknown as { sealed: { bytes?: Uint8Array } }).sealed.bytes;
    const text = entries.map((entry) => entry.data).join('');
    expect(kept).toBeInstanceOf(Uint8Array);
    expect(kept!.buffer.byteLength).toBe(kept!.byteLength);
    expect(kept!.byteLength).toBeLessThan(text.length / 10);
    expect(readAll(list)).toEqual(entries);
  });

  it('a view taken while the stream runs sees later appends, and stays whole once it ends', () => {
    const list = new EntryList();
    list.push({ first: 1, last: 1, data: 'a\n\n' });
    const view = list.view();
    list.push({ first: 2, last: 3, data: 'b\n\nc\n\n' });
    list.seal();
    expect([view.length, view.at(1)]).toEqual([2, { first: 2, last: 3, data: 'b\n\nc\n\n' }]);
  });

  it('takes no entry once sealed', () => {
    const list = new EntryList();
    list.push({ first: 1, last: 1, data: 'a\n\n' });
    list.seal();
    expect(() => list.push({ first: 2, last: 2, data: 'b\n\n' })).toThrow(/ended/);
  });
});

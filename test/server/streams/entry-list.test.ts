import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryList } from '../../../src/server/streams/entry-list.ts';
import type { LogEntry } from '../../../src/server/streams/types.ts';

/** Entries of 1..n events each, ids contiguous from 1, as a producer appends them. */
const entriesArbitrary = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.string()), { maxLength: 30 })
  .map((batches) => {
    let next = 1;
    return batches.map(([events, text]): LogEntry => {
      const first = next;
      next += events;
      return { first, last: next - 1, data: `${text}|${first}-${next - 1}\n\n` };
    });
  });

describe('EntryList', () => {
  it('reads back the same entries, boundaries and all, before and after it is sealed (property)', () => {
    fc.assert(
      fc.property(entriesArbitrary, fc.integer({ min: 0, max: 130 }), (entries, after) => {
        const list = new EntryList();
        for (const entry of entries) list.push(entry);
        const read = () => Array.from({ length: list.length }, (_, index) => list.at(index));
        const before = { all: read(), lastSeq: list.lastSeq, firstAfter: list.firstAfter(after) };
        list.seal();
        expect(read()).toEqual(entries);
        expect(before.all).toEqual(entries);
        expect(list.lastSeq).toBe(before.lastSeq);
        expect(list.lastSeq).toBe(entries.at(-1)?.last ?? 0);
        expect(list.firstAfter(after)).toBe(before.firstAfter);
        expect(list.firstAfter(after)).toBe(
          entries.findIndex((entry) => entry.last > after) === -1
            ? entries.length
            : entries.findIndex((entry) => entry.last > after),
        );
      }),
    );
  });

  it('takes no entry once sealed', () => {
    const list = new EntryList();
    list.push({ first: 1, last: 1, data: 'a\n\n' });
    list.seal();
    expect(() => list.push({ first: 2, last: 2, data: 'b\n\n' })).toThrow(/ended/);
  });
});

import type { LogEntry } from './types.ts';

/**
 * A stream's entries in the memory log: an array while the stream is written, and once it has
 * ended (it is kept until its TTL), one flat string with the entries' ends and last ids beside
 * it. An entry's text as appended is a few strings joined, pointing into the network chunk it
 * was cut from, and with its object it took about two and a half times the text's size; the
 * compact form takes little more than the text (measured: 14.6 → 9.2 KB for a 64-event answer).
 * Readers see the same entries either way: `at(i)` builds one when asked.
 */
export class EntryList {
  private entries: LogEntry[] = [];
  private compact: { text: string; ends: Uint32Array; lasts: Float64Array; first: number } | undefined;

  get length(): number {
    return this.compact ? this.compact.ends.length : this.entries.length;
  }

  /** The last event id (0 before any). */
  get lastSeq(): number {
    const count = this.length;
    return count === 0 ? 0 : this.lastOf(count - 1);
  }

  push(entry: LogEntry): void {
    if (this.compact) throw new Error('An ended stream takes no more entries.');
    this.entries.push(entry);
  }

  at(index: number): LogEntry {
    const compact = this.compact;
    if (!compact) return this.entries[index]!;
    const start = index === 0 ? 0 : compact.ends[index - 1]!;
    return {
      first: index === 0 ? compact.first : compact.lasts[index - 1]! + 1,
      last: compact.lasts[index]!,
      data: compact.text.slice(start, compact.ends[index]),
    };
  }

  /** Index of the first entry holding an id after `after`. */
  firstAfter(after: number): number {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.lastOf(mid) <= after) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The stream ended: the entries take their compact form. */
  seal(): void {
    const entries = this.entries;
    if (this.compact || entries.length === 0) return;
    const ends = new Uint32Array(entries.length);
    const lasts = new Float64Array(entries.length);
    let at = 0;
    entries.forEach((entry, index) => {
      at += entry.data.length;
      ends[index] = at;
      lasts[index] = entry.last;
    });
    this.compact = {
      text: entries.map((entry) => entry.data).join(''),
      ends,
      lasts,
      first: entries[0]!.first,
    };
    this.entries = [];
  }

  private lastOf(index: number): number {
    return this.compact ? this.compact.lasts[index]! : this.entries[index]!.last;
  }
}

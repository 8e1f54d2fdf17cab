import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { LogEntry } from './types.ts';

/** A stream's entries as a reader sees them, boundaries and all. */
export interface EntryView {
  readonly length: number;
  at(index: number): LogEntry;
  /** Index of the first entry holding an id after `after`. */
  firstAfter(after: number): number;
}

/**
 * A stream's entries in the memory log: an array while the stream is written, and once it has
 * ended (it is kept until its TTL), its text and the entries' ends and last ids packed into one
 * deflated byte array. An entry's text as appended is a few strings joined, pointing into the
 * network chunk it was cut from, and with its object it took about two and a half times the
 * text's size; one flat string took little more than the text, but twice that as soon as one
 * character is past Latin-1 (a curly quote: V8 then stores every character in two bytes),
 * 17.6 KB for the bench's 64-event answer. Deflated with its index: about 0.9 KB, for about
 * 0.1 ms of CPU at the end and 0.08 ms per read of an ended stream (measured, in
 * docs/ARCHITECTURE.md). Readers see the same entries either way, through `view()`.
 */
export class EntryList {
  private entries: LogEntry[] = [];
  private sealed: Packed | Flat | undefined;

  get length(): number {
    return this.sealed ? this.sealed.count : this.entries.length;
  }

  /** The last event id (0 before any). */
  get lastSeq(): number {
    if (this.sealed) return this.sealed.lastSeq;
    return this.entries.length === 0 ? 0 : this.entries[this.entries.length - 1]!.last;
  }

  push(entry: LogEntry): void {
    if (this.sealed) throw new Error('An ended stream takes no more entries.');
    this.entries.push(entry);
  }

  /**
   * The entries to read now. A running stream's view is its array, which sees later appends
   * (and stays whole if the stream ends meanwhile); an ended stream's is unpacked once per view.
   */
  view(): EntryView {
    const sealed = this.sealed;
    if (!sealed) return new ArrayView(this.entries);
    return sealed instanceof Packed ? sealed.unpack() : sealed;
  }

  /** The stream ended: the entries take their packed form. */
  seal(): void {
    const entries = this.entries;
    if (this.sealed || entries.length === 0) return;
    const flat = Flat.of(entries);
    // UTF-8 carries any well-formed text unchanged; a lone surrogate would not survive it.
    this.sealed = isWellFormed(flat.text) ? Packed.of(flat) : flat;
    this.entries = [];
  }
}

/** ES2024's `isWellFormed` (in Node, not in this project's ES2023 types): native, unlike a regex scan. */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

class ArrayView implements EntryView {
  private readonly entries: LogEntry[];

  constructor(entries: LogEntry[]) {
    this.entries = entries;
  }

  get length(): number {
    return this.entries.length;
  }

  at(index: number): LogEntry {
    return this.entries[index]!;
  }

  firstAfter(after: number): number {
    return firstAfter(this.entries.length, (index) => this.entries[index]!.last, after);
  }
}

/** One string for all the entries' text, with each entry's end in it and last id. */
class Flat implements EntryView {
  readonly text: string;
  readonly ends: Uint32Array;
  readonly lasts: Float64Array;
  readonly first: number;

  constructor(text: string, ends: Uint32Array, lasts: Float64Array, first: number) {
    this.text = text;
    this.ends = ends;
    this.lasts = lasts;
    this.first = first;
  }

  static of(entries: readonly LogEntry[]): Flat {
    const ends = new Uint32Array(entries.length);
    const lasts = new Float64Array(entries.length);
    let at = 0;
    entries.forEach((entry, index) => {
      at += entry.data.length;
      ends[index] = at;
      lasts[index] = entry.last;
    });
    return new Flat(entries.map((entry) => entry.data).join(''), ends, lasts, entries[0]!.first);
  }

  get count(): number {
    return this.ends.length;
  }

  get length(): number {
    return this.ends.length;
  }

  get lastSeq(): number {
    return this.lasts[this.lasts.length - 1]!;
  }

  at(index: number): LogEntry {
    return {
      first: index === 0 ? this.first : this.lasts[index - 1]! + 1,
      last: this.lasts[index]!,
      data: this.text.slice(index === 0 ? 0 : this.ends[index - 1]!, this.ends[index]),
    };
  }

  firstAfter(after: number): number {
    return firstAfter(this.lasts.length, (index) => this.lasts[index]!, after);
  }
}

/**
 * Deflate options: a 4 KiB window finds the repeats of one event in the next, and its smaller
 * state halves the time a call takes (most of it is setting that state up); level 1 halves it
 * again, for 3% more bytes than level 6 (measured on a 64-event answer: 35 against 66 µs).
 */
const DEFLATE = {
  level: 1,
  windowBits: 12,
  memLevel: 4,
  // zlib's output buffer, made per call: 16 KiB by default, freed only when collected, for a
  // result of about 1 KiB (more is added in further chunks when needed).
  chunkSize: 2048,
};
/** Header: the entry count and the first id, then each entry's end (u32) and last id (f64). */
const HEADER_BYTES = 16;

let scratchBuffer = Buffer.allocUnsafeSlow(16 * 1024);

/**
 * `bytes` of one buffer kept for every seal (they run one at a time). A buffer per seal came
 * from Node's shared pool, whose 64 KiB slabs, held past a few young collections, were
 * promoted and then kept as garbage until a full one: 35 KB of external memory per held
 * stream in the probe, more than the deflating saved.
 */
function scratch(bytes: number): Buffer {
  if (scratchBuffer.length < bytes)
    scratchBuffer = Buffer.allocUnsafeSlow(Math.max(bytes, scratchBuffer.length * 2));
  return scratchBuffer.subarray(0, bytes);
}

/** A `Flat` deflated: header, ends, lasts, then the text in UTF-8. */
class Packed {
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly lastSeq: number;

  constructor(bytes: Uint8Array, count: number, lastSeq: number) {
    this.bytes = bytes;
    this.count = count;
    this.lastSeq = lastSeq;
  }

  static of(flat: Flat): Packed {
    const count = flat.count;
    const indexBytes = HEADER_BYTES + count * 12;
    const plain = scratch(indexBytes + Buffer.byteLength(flat.text));
    plain.writeUInt32LE(count, 0);
    plain.writeUInt32LE(0, 4);
    plain.writeDoubleLE(flat.first, 8);
    for (let index = 0; index < count; index++) {
      plain.writeUInt32LE(flat.ends[index]!, HEADER_BYTES + index * 4);
      plain.writeDoubleLE(flat.lasts[index]!, HEADER_BYTES + count * 4 + index * 8);
    }
    plain.write(flat.text, indexBytes, 'utf8');
    // A copy of its own size: zlib's result is a view of a 64 KiB buffer, which it would keep.
    return new Packed(new Uint8Array(deflateRawSync(plain, DEFLATE)), count, flat.lastSeq);
  }

  unpack(): Flat {
    const plain = inflateRawSync(this.bytes);
    const count = plain.readUInt32LE(0);
    const ends = new Uint32Array(count);
    const lasts = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      ends[index] = plain.readUInt32LE(HEADER_BYTES + index * 4);
      lasts[index] = plain.readDoubleLE(HEADER_BYTES + count * 4 + index * 8);
    }
    const text = plain.toString('utf8', HEADER_BYTES + count * 12);
    return new Flat(text, ends, lasts, plain.readDoubleLE(8));
  }
}

/** Index of the first of `count` entries whose last id is after `after` (they ascend). */
function firstAfter(count: number, lastOf: (index: number) => number, after: number): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (lastOf(mid) <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

import { readFileSync } from 'node:fs';

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
}

/** The bytes cut at the given offsets (sorted, deduplicated, in range). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => Math.max(0, Math.min(bytes.length, cut))))].sort(
    (a, b) => a - b,
  );
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = point;
  }
  if (start < bytes.length) chunks.push(bytes.subarray(start));
  return chunks;
}

export function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** A ReadableStream of the chunks, as fetch hands a body over. */
export function readableOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

export async function* iterableOf(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

export const encoder = new TextEncoder();

/** Every well-formed transcript fixture (those that end in message_stop). */
export const COMPLETE_FIXTURES = [
  'text.sse',
  'text-crlf.sse',
  'text-cr.sse',
  'tool-use.sse',
  'thinking.sse',
  'citations.sse',
  'pings-comments-unknown.sse',
];

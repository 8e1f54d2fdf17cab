/**
 * Timing, chunking and formatting helpers for the stream benchmarks. Nothing here knows about
 * either implementation: a run is any async function over a byte stream.
 */

/** What one consumer run got through: all of it, or the prefix it reached before a time cap. */
export interface Progress {
  /** SSE events consumed. */
  events: number;
  /** Bytes of those events. */
  bytes: number;
  /** True when the run was stopped at its time cap before the end of the transcript. */
  capped: boolean;
}

export interface Sample extends Progress {
  wallMs: number;
  cpuMs: number;
}

export interface Summary {
  runs: number;
  /** Medians over the runs. */
  wallMs: number;
  cpuMs: number;
  /** Of the median run by wall time, so they describe one real run, capped runs included. */
  events: number;
  bytes: number;
  capped: boolean;
  /** Input megabytes per second of wall time. */
  mbPerSec: number;
  /** Input megabytes per second of CPU time: steadier than wall time on a busy machine. */
  mbPerCpuSec: number;
  eventsPerSec: number;
  samples: Sample[];
}

const gc = (globalThis as { gc?: () => void }).gc;

/** True when the process runs with `--expose-gc`, so heap figures can exclude old garbage. */
export const canCollectGarbage = gc !== undefined;

export function collectGarbage(): void {
  gc?.();
}

export interface Timed<T> {
  result: T;
  wallMs: number;
  /** User + system CPU of the whole process (GC and other helper threads included). */
  cpuMs: number;
}

/** Times one run; garbage left by earlier runs is collected first so it is not billed to this one. */
export async function timeRun<T>(run: () => Promise<T>): Promise<Timed<T>> {
  collectGarbage();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const result = await run();
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { result, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(samples: Sample[]): Summary {
  const byWall = [...samples].sort((a, b) => a.wallMs - b.wallMs);
  const typical = byWall[byWall.length >> 1]!;
  const wallMs = median(samples.map((sample) => sample.wallMs));
  return {
    runs: samples.length,
    wallMs,
    cpuMs: median(samples.map((sample) => sample.cpuMs)),
    events: typical.events,
    bytes: typical.bytes,
    capped: samples.some((sample) => sample.capped),
    // Throughput of the median-wall run itself, so a capped run is rated on what it really did.
    mbPerSec: typical.bytes / 1e6 / (typical.wallMs / 1000),
    mbPerCpuSec: typical.bytes / 1e6 / (typical.cpuMs / 1000),
    eventsPerSec: typical.events / (typical.wallMs / 1000),
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Chunking: how the bytes reach the consumer. Chunks are views into one buffer, made once, so
// every run of either implementation sees the very same chunk boundaries.

/** Fixed-size chunks, as a socket delivering a fast stream hands them over. */
export function chunkEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/**
 * Byte offset just past each SSE event. The transcripts use LF line ends and single-line JSON
 * data, so every event ends at a blank line, `\n\n`.
 */
export function eventEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] === 0x0a) ends.push(i + 1);
  }
  return ends;
}

/** One chunk per SSE event, as a server that flushes after each event delivers a slow stream. */
export function chunkPerEvent(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of eventEnds(bytes)) {
    chunks.push(bytes.subarray(start, end));
    start = end;
  }
  if (start < bytes.length) chunks.push(bytes.subarray(start));
  return chunks;
}

export interface BodyOptions {
  /** Runs before each chunk is handed over. */
  onPull?: () => void;
  /** Like fetch's: aborting it errors the body at once, dropping what is queued. */
  signal?: AbortSignal | null | undefined;
}

/** A fresh body over the chunks. */
export function readableOf(chunks: Uint8Array[], options: BodyOptions = {}): ReadableStream<Uint8Array> {
  const { onPull, signal } = options;
  let next = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      signal?.addEventListener('abort', () => controller.error(signal.reason), { once: true });
    },
    pull(controller) {
      onPull?.();
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatMB(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} KB`;
}

/** A number with about three significant digits, thousands grouped. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

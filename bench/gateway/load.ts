/**
 * The load generator's measurement: N concurrent streaming requests over Node's own `http`
 * (fetch/undici would add a stream machinery of its own to every figure), timing every SSE
 * frame as it arrives. Runs in whichever process imports it; the bench runs it in a child of
 * its own (load-child.ts) so that its CPU is neither the gateway's nor the upstream's.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export type Format = 'anthropic' | 'openai';

/** One streaming request, as plain data so it can cross to the load generator's process. */
export interface RequestSpec {
  /** Origin, e.g. http://127.0.0.1:8787. */
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  format: Format;
}

export interface LoadOptions {
  request: RequestSpec;
  /** Streams open at once: N slots, each running its streams one after the other. */
  concurrency: number;
  /** Streams each slot runs back to back (more samples, and N held for longer). */
  streamsPerSlot?: number;
  /**
   * Slot i starts at i × rampMs / N. A ramp as long as one stream gives a steady N streams
   * open with requests arriving evenly, as a busy gateway sees them; 0 opens all N at once.
   */
  rampMs?: number;
  /** Content deltas a complete stream carries; fewer is a stalled stream. */
  expectedDeltas: number;
  /** No frame for longer than this is a stall. */
  stallMs?: number;
  /** Hard limit on the whole run: streams still open then are destroyed and count as stalled. */
  deadlineMs?: number;
  /** Close the idle keep-alive connections afterwards, so the next path starts from none. */
  closeIdleAfter?: boolean;
  agent?: Agent;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  /** How many values they were taken from. */
  count: number;
}

export interface LoadResult {
  streams: number;
  /** Request start to the arrival of the first content delta, in ms. */
  ttft: Percentiles;
  /** Between consecutive content deltas of a stream, in ms (the upstream paces them). */
  gap: Percentiles;
  frames: number;
  deltas: number;
  /** Streams that failed: connection error, HTTP status other than 200, error frame, cut body. */
  errors: number;
  /** Streams without an error that went quiet for over `stallMs`, or ended short, or hit the deadline. */
  stalled: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
  wallMs: number;
}

/** What was seen of one stream. */
export interface StreamRecord {
  startedAt: number;
  status: number | undefined;
  /** Arrival of every frame (SSE event / OpenAI chunk), ms after `startedAt`. */
  frameTimes: number[];
  /** Arrival of every content delta frame, ms after `startedAt`. */
  deltaTimes: number[];
  /** A terminal frame arrived (`message_stop`, `[DONE]`). */
  complete: boolean;
  error: string | undefined;
  /** A silence over the stall limit, first frame included. */
  silentTooLong: boolean;
  timedOut: boolean;
}

const DEFAULT_STALL_MS = 1000;
const DEFAULT_DEADLINE_MS = 30_000;
const MAX_ERROR_SAMPLES = 5;

/** A keep-alive agent that holds as many sockets, busy or idle, as any run opens. */
export function createLoadAgent(): Agent {
  // maxFreeSockets defaults to 256: a 1000-stream run would close and reopen most of its
  // connections between rounds, and time TCP handshakes instead of the gateway.
  return new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 1_000_000 });
}

const sharedAgent = createLoadAgent();

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, streamsPerSlot = 1, rampMs = 0 } = options;
  const started = performance.now();
  const records: StreamRecord[] = [];
  const open = new Set<() => void>();
  let expired = false;
  const deadline = setTimeout(() => {
    expired = true;
    for (const destroy of open) destroy();
  }, options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const slot = async (index: number) => {
    if (rampMs > 0) await sleep((index * rampMs) / concurrency);
    for (let stream = 0; stream < streamsPerSlot && !expired; stream++) {
      records.push(await openStream(options, open));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, index) => slot(index)));
  } finally {
    clearTimeout(deadline);
  }
  if (options.closeIdleAfter) closeIdle(options.agent ?? sharedAgent);
  return summarize(records, options.expectedDeltas, performance.now() - started);
}

function closeIdle(agent: Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}

/** One stream; while it is open, `open` holds what destroys it (the run's deadline calls it). */
function openStream(options: LoadOptions, open: Set<() => void>): Promise<StreamRecord> {
  const { request, stallMs = DEFAULT_STALL_MS } = options;
  const target = new URL(request.path, request.url);
  return new Promise((resolve) => {
    const attempt = (retried: boolean) => {
      const record: StreamRecord = {
        startedAt: performance.now(),
        status: undefined,
        frameTimes: [],
        deltaTimes: [],
        complete: false,
        error: undefined,
        silentTooLong: false,
        timedOut: false,
      };
      let lastFrameAt = record.startedAt;
      let settled = false;
      let responded = false;
      const finish = (error?: string) => {
        if (settled) return;
        settled = true;
        open.delete(destroy);
        if (error !== undefined && record.error === undefined && !record.timedOut) record.error = error;
        // A stream that never delivers is silent for as long as it was open.
        if (performance.now() - lastFrameAt > stallMs) record.silentTooLong = true;
        resolve(record);
      };
      const req = httpRequest(
        target,
        {
          method: 'POST',
          agent: options.agent ?? sharedAgent,
          headers: {
            ...request.headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(request.body),
          },
        },
        (res) => {
          responded = true;
          record.status = res.statusCode;
          if (res.statusCode !== 200) {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
            });
            res.on('end', () => finish(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
            res.on('error', (error) => finish(String(error)));
            return;
          }
          const frames = new FrameCounter(request.format);
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            const seen = frames.push(chunk);
            for (let i = 0; i < seen.frames; i++) record.frameTimes.push(now - record.startedAt);
            for (let i = 0; i < seen.deltas; i++) record.deltaTimes.push(now - record.startedAt);
            if (seen.frames > 0) {
              if (now - lastFrameAt > stallMs) record.silentTooLong = true;
              lastFrameAt = now;
            }
            if (seen.error !== undefined && record.error === undefined) record.error = seen.error;
            if (seen.terminal) record.complete = true;
          });
          res.on('end', () => finish(record.complete ? undefined : 'the body ended before its last frame'));
          res.on('error', (error) => finish(String(error)));
          res.on('close', () => finish(res.complete ? undefined : 'the connection closed mid-body'));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A keep-alive socket the server closed just as it was reused: Node's documented case
        // for retrying once (no byte of this request reached the server).
        if (!responded && !retried && req.reusedSocket && error.code === 'ECONNRESET') {
          settled = true;
          open.delete(destroy);
          attempt(true);
          return;
        }
        finish(error.code ?? error.message);
      });
      const destroy = () => {
        record.timedOut = true;
        req.destroy();
        finish();
      };
      open.add(destroy);
      req.end(request.body);
    };
    attempt(false);
  });
}

interface Seen {
  frames: number;
  deltas: number;
  terminal: boolean;
  error: string | undefined;
}

/**
 * Splits an SSE body into frames (blank-line separated events) and classifies them with plain
 * string tests: parsing JSON at 250,000 frames a second would make the load generator the
 * bottleneck. Text inside JSON strings cannot fake the markers: its quotes are escaped.
 */
export class FrameCounter {
  private pending = '';
  private readonly format: Format;

  constructor(format: Format) {
    this.format = format;
  }

  push(chunk: string): Seen {
    // CRLF line ends become LF; a CR at the very end waits for its LF in the next chunk.
    this.pending = (this.pending + chunk).replace(/\r\n/g, '\n');
    const seen: Seen = { frames: 0, deltas: 0, terminal: false, error: undefined };
    let start = 0;
    for (let end = this.pending.indexOf('\n\n'); end !== -1; end = this.pending.indexOf('\n\n', start)) {
      const frame = this.pending.slice(start, end);
      start = end + 2;
      if (frame.trim() === '') continue;
      seen.frames++;
      this.classify(frame, seen);
    }
    this.pending = this.pending.slice(start);
    return seen;
  }

  private classify(frame: string, seen: Seen): void {
    if (this.format === 'anthropic') {
      if (frame.includes('event: content_block_delta')) seen.deltas++;
      else if (frame.includes('event: message_stop')) seen.terminal = true;
      else if (frame.includes('event: error')) seen.error = `error event: ${frame.slice(0, 200)}`;
      return;
    }
    if (frame.includes('data: [DONE]')) seen.terminal = true;
    else if (frame.includes('"error":{')) seen.error = `error chunk: ${frame.slice(0, 200)}`;
    // The first chunk carries the role with empty content: not a delta.
    else if (frame.includes('"content":"') && !frame.includes('"content":""')) seen.deltas++;
  }
}

export function summarize(records: StreamRecord[], expectedDeltas: number, wallMs: number): LoadResult {
  const ttfts: number[] = [];
  const gaps: number[] = [];
  const errorSamples = new Set<string>();
  let frames = 0;
  let deltas = 0;
  let errors = 0;
  let stalled = 0;
  for (const record of records) {
    frames += record.frameTimes.length;
    deltas += record.deltaTimes.length;
    const first = record.deltaTimes[0];
    if (first !== undefined) ttfts.push(first);
    for (let i = 1; i < record.deltaTimes.length; i++) {
      gaps.push(record.deltaTimes[i]! - record.deltaTimes[i - 1]!);
    }
    if (record.error !== undefined) {
      errors++;
      if (errorSamples.size < MAX_ERROR_SAMPLES) errorSamples.add(record.error);
    } else if (
      record.timedOut ||
      record.silentTooLong ||
      !record.complete ||
      record.deltaTimes.length < expectedDeltas
    ) {
      stalled++;
    }
  }
  return {
    streams: records.length,
    ttft: percentiles(ttfts),
    gap: percentiles(gaps),
    frames,
    deltas,
    errors,
    stalled,
    errorSamples: [...errorSamples],
    wallMs,
  };
}

/** Nearest-rank percentiles; NaN for no values. */
export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: rank(0.5), p99: rank(0.99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
}

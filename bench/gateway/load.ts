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
  /** Frames (SSE events / OpenAI chunks) that arrived. */
  frames: number;
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
  const prepared = prepare(options.request);
  const slot = async (index: number) => {
    if (rampMs > 0) await sleep((index * rampMs) / concurrency);
    for (let stream = 0; stream < streamsPerSlot && !expired; stream++) {
      records.push(await openStream(options, prepared, open));
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

/** What every stream of a run sends: its URL, headers and body, built once. */
interface PreparedRequest {
  target: URL;
  headers: Record<string, string | number>;
  body: Buffer;
}

function prepare(request: RequestSpec): PreparedRequest {
  const body = Buffer.from(request.body, 'utf8');
  return {
    target: new URL(request.path, request.url),
    headers: { ...request.headers, 'content-type': 'application/json', 'content-length': body.length },
    body,
  };
}

/** One stream; while it is open, `open` holds what destroys it (the run's deadline calls it). */
function openStream(
  options: LoadOptions,
  { target, headers, body }: PreparedRequest,
  open: Set<() => void>,
): Promise<StreamRecord> {
  const { request, stallMs = DEFAULT_STALL_MS } = options;
  return new Promise((resolve) => {
    const attempt = (retried: boolean) => {
      const record: StreamRecord = {
        startedAt: performance.now(),
        status: undefined,
        frames: 0,
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
          headers,
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
          res.on('data', (chunk: Buffer) => {
            const now = performance.now();
            const seen = frames.push(chunk);
            record.frames += seen.frames;
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
      req.end(body);
    };
    attempt(false);
  });
}

/** What the frames completed by one chunk were; reset by every `push`. */
export interface Seen {
  frames: number;
  deltas: number;
  terminal: boolean;
  error: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const marker = (text: string) => Buffer.from(text, 'latin1');
const ANTHROPIC_DELTA = marker('event: content_block_delta');
const ANTHROPIC_STOP = marker('event: message_stop');
const ANTHROPIC_ERROR = marker('event: error');
const OPENAI_DONE = marker('data: [DONE]');
const OPENAI_ERROR = marker('"error":{');
const OPENAI_CONTENT = marker('"content":"');
const OPENAI_EMPTY_CONTENT = marker('"content":""');
const NOTHING = Buffer.alloc(0);

/**
 * Splits an SSE body into frames (blank-line separated events) and classifies them by looking
 * for markers in the bytes as they came: decoding, joining and matching strings at 25,000
 * frames a second made the load generator a bottleneck of its own. Text inside JSON strings
 * cannot fake the markers: its quotes are escaped. A CRLF counts as one line end (a CR just
 * before the end of a chunk waits for the next); the markers hold no line ends, so finding
 * them in the raw bytes finds what the same search finds in the text with CRLFs made LFs.
 */
export class FrameCounter {
  /** What this chunk's frames were (the same object every time: read it before the next push). */
  readonly seen: Seen = { frames: 0, deltas: 0, terminal: false, error: undefined };
  /** The start of a frame whose end has not arrived yet (usually nothing). */
  private pending: Buffer = NOTHING;
  private readonly format: Format;

  constructor(format: Format) {
    this.format = format;
  }

  push(chunk: Buffer): Seen {
    const seen = this.seen;
    seen.frames = 0;
    seen.deltas = 0;
    seen.terminal = false;
    seen.error = undefined;
    // Only a frame split across chunks costs a copy.
    const bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let start = 0;
    for (let lf = bytes.indexOf(LF); lf !== -1; lf = bytes.indexOf(LF, lf + 1)) {
      // A blank line: LF LF, or LF CR LF (the first line's own CR, if any, is not the frame's).
      let next = lf + 1;
      if (bytes[next] === CR) next++;
      if (next >= bytes.length) break; // what follows decides: the next chunk
      if (bytes[next] !== LF) continue;
      const end = lf > start && bytes[lf - 1] === CR ? lf - 1 : lf;
      this.frame(bytes, start, end);
      start = next + 1;
      lf = next;
    }
    this.pending = start === bytes.length ? NOTHING : Buffer.from(bytes.subarray(start));
    return seen;
  }

  private frame(bytes: Buffer, start: number, end: number): void {
    if (isBlank(bytes, start, end)) return;
    const seen = this.seen;
    seen.frames++;
    const has = (text: Buffer) => within(bytes, text, start, end);
    if (this.format === 'anthropic') {
      if (has(ANTHROPIC_DELTA)) seen.deltas++;
      else if (has(ANTHROPIC_STOP)) seen.terminal = true;
      else if (has(ANTHROPIC_ERROR)) seen.error = `error event: ${frameText(bytes, start, end)}`;
      return;
    }
    if (has(OPENAI_DONE)) seen.terminal = true;
    else if (has(OPENAI_ERROR)) seen.error = `error chunk: ${frameText(bytes, start, end)}`;
    // The first chunk carries the role with empty content: not a delta.
    else if (has(OPENAI_CONTENT) && !has(OPENAI_EMPTY_CONTENT)) seen.deltas++;
  }
}

/** Whether `text` occurs in bytes[start, end), without a view (an allocation) per search. */
function within(bytes: Buffer, text: Buffer, start: number, end: number): boolean {
  const at = bytes.indexOf(text, start);
  return at !== -1 && at + text.length <= end;
}

/** Whitespace only, as String.prototype.trim sees it (the rare non-ASCII case is decoded). */
function isBlank(bytes: Buffer, start: number, end: number): boolean {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x80) ascii = false;
    else if (byte !== 0x20 && (byte < 0x09 || byte > 0x0d)) return false;
  }
  return ascii || bytes.toString('utf8', start, end).trim() === '';
}

/** The frame's first 200 characters, with CRLFs as LFs, for an error sample. */
function frameText(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end).replace(/\r\n/g, '\n').slice(0, 200);
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
    frames += record.frames;
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

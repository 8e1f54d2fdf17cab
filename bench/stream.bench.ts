/**
 * `npm run bench:stream`: decode + assemble throughput of Sluice's MessageStream against the
 * official `@anthropic-ai/sdk` MessageStream, both fed the same in-memory bytes in the same
 * chunks, in the same process, in alternating runs.
 *
 *   (a) a ~5 MB text-heavy transcript, consumed to its final message;
 *   (b) a ~200 KB tool input in 4–16 character `input_json_delta` fragments, with a listener
 *       reading the live partial input after every delta (as a UI rendering it would).
 *
 * Prints a table, a PASS/MISS line against the goals, and writes bench/results/stream.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { MessageStream } from '../src/stream/message-stream.ts';
import {
  canCollectGarbage,
  chunkEvery,
  chunkPerEvent,
  collectGarbage,
  eventEnds,
  formatMB,
  formatNumber,
  formatTable,
  type Progress,
  readableOf,
  type Sample,
  type Summary,
  summarize,
  timeRun,
} from './harness.ts';
import { machine } from './machine.ts';
import { type TextTranscript, type ToolTranscript, textTranscript, toolTranscript } from './transcripts.ts';

const IMPLS = ['sluice', 'sdk'] as const;
type Impl = (typeof IMPLS)[number];

const CHUNK_BYTES = 16 * 1024;
// The SDK re-parses the whole accumulated input on every delta (quadratic): a full (b) run takes
// about two minutes, so its runs stop at this cap and are rated on the prefix they got through.
// The 1 event/chunk variant gets half, to keep the whole bench under a minute. Set
// BENCH_SDK_CAP_S=0 to let them run to the end.
const SDK_CAP_MS = capFromEnvironment(process.env.BENCH_SDK_CAP_S, 20);
const SDK_WARMUP_CAP_MS = Math.min(SDK_CAP_MS, 1_000);
const MODEL = 'claude-sonnet-4-6';

function capFromEnvironment(value: string | undefined, defaultSeconds: number): number {
  const seconds = value === undefined || value === '' ? defaultSeconds : Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new TypeError(`BENCH_SDK_CAP_S must be seconds, not ${value}`);
  }
  return seconds === 0 ? Number.POSITIVE_INFINITY : seconds * 1000;
}

// ---------------------------------------------------------------------------------------------
// The two consumers. Each gets a fresh body over the same chunks and returns the essentials of
// its final message, so the two can be compared with each other and with the transcript.

/** The part of a final message both implementations must agree on. */
interface Assembled {
  stopReason: unknown;
  content: unknown[];
}

interface ConsumeOptions {
  /** Listen to `inputJson` and read the live partial input after every delta. */
  watchInput: boolean;
  /** `performance.now()` after which the run stops at its next input delta. */
  deadline: number;
  /** Called before each chunk is handed over (memory sampling). */
  onPull?: () => void;
}

interface Consumed {
  /** Undefined when the run was stopped at its deadline. */
  message: Assembled | undefined;
  inputDeltas: number;
  /** Records seen in the partial inputs, summed: proof the listener really read them. */
  recordsSeen: number;
}

type Consumer = (chunks: Uint8Array[], options: ConsumeOptions) => Promise<Consumed>;

/** The `inputJson` listener both sides use: reads the partial input and stops at the deadline. */
class InputWatcher {
  deltas = 0;
  recordsSeen = 0;
  stopped = false;
  private readonly deadline: number;
  private readonly stop: () => void;

  constructor(deadline: number, stop: () => void) {
    this.deadline = deadline;
    this.stop = stop;
  }

  readonly listener = (_delta: string, partialInput: unknown): void => {
    this.deltas++;
    this.recordsSeen += recordCount(partialInput);
    if (!this.stopped && performance.now() > this.deadline) {
      this.stopped = true;
      this.stop();
    }
  };

  /** The outcome of a run that threw: a stop at the deadline, or a real failure to rethrow. */
  stoppedOrThrow(error: unknown): Consumed {
    if (!this.stopped) throw error;
    return { message: undefined, inputDeltas: this.deltas, recordsSeen: this.recordsSeen };
  }

  finished(message: Assembled): Consumed {
    return { message, inputDeltas: this.deltas, recordsSeen: this.recordsSeen };
  }
}

function recordCount(partialInput: unknown): number {
  if (typeof partialInput !== 'object' || partialInput === null) return 0;
  const records = (partialInput as { records?: unknown }).records;
  return Array.isArray(records) ? records.length : 0;
}

const consumeWithSluice: Consumer = async (chunks, options) => {
  const stream = MessageStream.fromSSE(readableOf(chunks, { onPull: options.onPull }));
  const watcher = new InputWatcher(options.deadline, () => stream.abort());
  if (options.watchInput) stream.on('inputJson', watcher.listener);
  try {
    const message = await stream.finalMessage();
    return watcher.finished(essentials(message.stop_reason, message.content));
  } catch (error) {
    return watcher.stoppedOrThrow(error);
  }
};

const consumeWithSdk: Consumer = async (chunks, options) => {
  // The client "fetches" a Response over the same chunks: no network, same bytes. The body
  // honours the request's signal as fetch's does, or an aborted SDK stream reads on to the end.
  const client = new Anthropic({
    apiKey: 'bench',
    baseURL: 'http://bench.invalid',
    maxRetries: 0,
    fetch: async (_url, init) =>
      new Response(readableOf(chunks, { onPull: options.onPull, signal: init?.signal }), {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      }),
  });
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 64_000,
    messages: [{ role: 'user', content: 'bench' }],
  });
  const watcher = new InputWatcher(options.deadline, () => stream.abort());
  if (options.watchInput) stream.on('inputJson', watcher.listener);
  try {
    const message = await stream.finalMessage();
    return watcher.finished(essentials(message.stop_reason, message.content));
  } catch (error) {
    return watcher.stoppedOrThrow(error);
  }
};

const CONSUMERS: Record<Impl, Consumer> = { sluice: consumeWithSluice, sdk: consumeWithSdk };

/** Text and tool blocks reduced to what they mean, as plain data. */
function essentials(stopReason: unknown, content: readonly unknown[]): Assembled {
  return { stopReason, content: content.map(blockEssentials) };
}

function blockEssentials(block: unknown): unknown {
  if (typeof block !== 'object' || block === null) return block;
  const fields = block as Record<string, unknown>;
  if (fields.type === 'text') return { type: 'text', text: fields.text };
  if (fields.type === 'tool_use')
    return { type: 'tool_use', id: fields.id, name: fields.name, input: fields.input };
  return { type: fields.type };
}

// ---------------------------------------------------------------------------------------------
// Cases

interface BenchCase {
  /** `(a)` or `(b)`, as the goals are stated. */
  id: string;
  name: string;
  /** Minimum speed-up over the SDK (throughput ratio). */
  goal: number;
  transcript: TextTranscript | ToolTranscript;
  chunking: string;
  chunks: Uint8Array[];
  /** Byte offset past each event, to rate a run stopped part way. */
  ends: number[];
  watchInput: boolean;
  runs: Record<Impl, number>;
  warmups: Record<Impl, number>;
  /** Time cap of one run per implementation; only a run reading partial input can stop early. */
  capMs: Record<Impl, number>;
  warmupCapMs: Record<Impl, number>;
}

function buildCases(): BenchCase[] {
  const text = textTranscript();
  const tool = toolTranscript();
  const uncapped = { sluice: Number.POSITIVE_INFINITY, sdk: Number.POSITIVE_INFINITY };
  const textCase: BenchCase = {
    id: '(a)',
    name: `(a) ${formatMB(text.bytes.length)} text`,
    goal: 2,
    transcript: text,
    chunking: '16 KiB chunks',
    chunks: chunkEvery(text.bytes, CHUNK_BYTES),
    ends: eventEnds(text.bytes),
    watchInput: false,
    runs: { sluice: 7, sdk: 7 },
    warmups: { sluice: 2, sdk: 2 },
    capMs: uncapped,
    warmupCapMs: uncapped,
  };
  const toolCase = (
    chunking: string,
    chunks: Uint8Array[],
    sdk: { warmups: number; capMs: number },
  ): BenchCase => ({
    id: '(b)',
    name: `(b) ${formatMB(tool.json.length)} tool input`,
    goal: 20,
    transcript: tool,
    chunking,
    chunks,
    ends: eventEnds(tool.bytes),
    watchInput: true,
    // One SDK run costs up to the cap; Sluice's are cheap, so it gets more for a steadier median.
    runs: { sluice: 7, sdk: 1 },
    warmups: { sluice: 2, sdk: sdk.warmups },
    capMs: { sluice: Number.POSITIVE_INFINITY, sdk: sdk.capMs },
    warmupCapMs: { sluice: Number.POSITIVE_INFINITY, sdk: SDK_WARMUP_CAP_MS },
  });
  return [
    textCase,
    toolCase('16 KiB chunks', chunkEvery(tool.bytes, CHUNK_BYTES), { warmups: 1, capMs: SDK_CAP_MS }),
    // The SDK's parser is warm from the case before; a second warm-up would cost its cap again.
    toolCase('1 event/chunk', chunkPerEvent(tool.bytes), { warmups: 0, capMs: SDK_CAP_MS / 2 }),
  ];
}

/** What a run got through: everything, or the events up to the input delta it stopped at. */
function progressOf(benchCase: BenchCase, consumed: Consumed): Progress {
  const { transcript, ends } = benchCase;
  if (consumed.message !== undefined) {
    return { events: transcript.events, bytes: transcript.bytes.length, capped: false };
  }
  const eventsBeforeInput = 'eventsBeforeInput' in transcript ? transcript.eventsBeforeInput : 0;
  const events = eventsBeforeInput + consumed.inputDeltas;
  return { events, bytes: ends[events - 1] ?? 0, capped: true };
}

function expectedOf(benchCase: BenchCase): Assembled {
  return { stopReason: benchCase.transcript.stopReason, content: benchCase.transcript.content };
}

/** Aborts the bench: numbers from a consumer that assembled the wrong message mean nothing. */
function checkMessage(benchCase: BenchCase, impl: Impl, actual: Assembled): void {
  const expected = expectedOf(benchCase);
  if (isDeepStrictEqual(actual, expected)) return;
  console.error(
    `\nbench:stream aborted: ${impl} assembled a wrong final message for ${benchCase.name}, ` +
      `${benchCase.chunking}: ${describeDifference(actual, expected)}.`,
  );
  process.exit(1);
}

function describeDifference(actual: Assembled, expected: Assembled): string {
  if (actual.content.length !== expected.content.length) {
    return `${actual.content.length} content blocks where the transcript has ${expected.content.length}`;
  }
  const index = expected.content.findIndex((block, i) => !isDeepStrictEqual(actual.content[i], block));
  if (index >= 0) return `content block ${index} differs from the transcript's`;
  return `stop reason ${String(actual.stopReason)} where the transcript has ${String(expected.stopReason)}`;
}

/**
 * Both sides must assemble the transcript's message before any timing. The SDK is checked
 * without the `inputJson` listener, which would make its run take minutes; its parse is then
 * lazy, once at the end, over the same bytes and chunks. Timed runs that finish are checked too.
 */
async function verifyBothAgree(benchCase: BenchCase): Promise<void> {
  for (const impl of IMPLS) {
    const consumed = await CONSUMERS[impl](benchCase.chunks, {
      watchInput: benchCase.watchInput && impl === 'sluice',
      deadline: Number.POSITIVE_INFINITY,
    });
    checkMessage(benchCase, impl, consumed.message!);
  }
}

interface CaseResult {
  benchCase: BenchCase;
  summaries: Record<Impl, Summary>;
  recordsSeen: Record<Impl, number[]>;
}

async function runOnce(
  benchCase: BenchCase,
  impl: Impl,
  capMs: number,
): Promise<Sample & { recordsSeen: number }> {
  const timed = await timeRun(() =>
    CONSUMERS[impl](benchCase.chunks, {
      watchInput: benchCase.watchInput,
      deadline: performance.now() + capMs,
    }),
  );
  const consumed = timed.result;
  if (consumed.message !== undefined) checkMessage(benchCase, impl, consumed.message);
  return {
    ...progressOf(benchCase, consumed),
    wallMs: timed.wallMs,
    cpuMs: timed.cpuMs,
    recordsSeen: consumed.recordsSeen,
  };
}

/** Warm-ups, then measured runs, alternating Sluice and SDK so both see the same machine state. */
async function measureCase(benchCase: BenchCase): Promise<CaseResult> {
  await verifyBothAgree(benchCase);
  const { runs, warmups } = benchCase;
  for (let round = 0; round < Math.max(warmups.sluice, warmups.sdk); round++) {
    for (const impl of IMPLS) {
      if (round < warmups[impl]) await runOnce(benchCase, impl, benchCase.warmupCapMs[impl]);
    }
  }
  const samples: Record<Impl, Sample[]> = { sluice: [], sdk: [] };
  const recordsSeen: Record<Impl, number[]> = { sluice: [], sdk: [] };
  for (let round = 0; round < Math.max(runs.sluice, runs.sdk); round++) {
    for (const impl of IMPLS) {
      if (round >= runs[impl]) continue;
      const { recordsSeen: seen, ...sample } = await runOnce(benchCase, impl, benchCase.capMs[impl]);
      samples[impl].push(sample);
      recordsSeen[impl].push(seen);
    }
  }
  return {
    benchCase,
    summaries: { sluice: summarize(samples.sluice), sdk: summarize(samples.sdk) },
    recordsSeen,
  };
}

interface Speedup {
  /** Sluice's MB/s over the SDK's, by wall time (the headline figure). */
  wall: number;
  /** The same by CPU time, which other processes on the machine disturb less. */
  cpu: number;
  /** The lower of the two: what a goal is judged on, so machine noise cannot pass it. */
  judged: number;
  /** The SDK only did the cheaper prefix of a quadratic run: the true ratio is higher. */
  lowerBound: boolean;
}

function speedup(result: CaseResult): Speedup {
  const { sluice, sdk } = result.summaries;
  const wall = sluice.mbPerSec / sdk.mbPerSec;
  const cpu = sluice.mbPerCpuSec / sdk.mbPerCpuSec;
  return { wall, cpu, judged: Math.min(wall, cpu), lowerBound: sdk.capped };
}

function formatRatio(ratio: number, lowerBound: boolean): string {
  return `${lowerBound ? '≥' : ''}${formatNumber(ratio)}x`;
}

// ---------------------------------------------------------------------------------------------
// Memory: heap growth of one (a) run. Every few chunks a full GC runs before heapUsed is
// sampled, so the peak is of live memory (message so far, parser state, buffers) rather than of
// garbage the GC has not got round to. Without --expose-gc it includes garbage.

// A full GC per 16 KiB chunk would make the memory runs the slowest part of the bench.
const MEMORY_SAMPLE_EVERY_CHUNKS = 8;

interface MemoryResult {
  impl: Impl;
  sseBytes: number;
  /** UTF-8 bytes of the assembled text. */
  messageBytes: number;
  /** Highest heapUsed sampled during the run, over the baseline. */
  peakGrowth: number;
  /** heapUsed after a full GC with the final message still referenced, over the baseline. */
  retained: number;
}

async function measureMemory(impl: Impl, transcript: TextTranscript): Promise<MemoryResult> {
  const chunks = chunkEvery(transcript.bytes, CHUNK_BYTES);
  collectGarbage();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sample = () => {
    collectGarbage();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  let pulls = 0;
  const consumed = await CONSUMERS[impl](chunks, {
    watchInput: false,
    deadline: Number.POSITIVE_INFINITY,
    onPull: () => {
      if (++pulls % MEMORY_SAMPLE_EVERY_CHUNKS === 0) sample();
    },
  });
  sample();
  const retained = process.memoryUsage().heapUsed - baseline;
  // Still referenced here, so the GC in sample() had to keep it.
  if (consumed.message === undefined) throw new Error('the memory run did not finish');
  return {
    impl,
    sseBytes: transcript.bytes.length,
    messageBytes: Buffer.byteLength(transcript.texts.join('')),
    peakGrowth: peak - baseline,
    retained,
  };
}

/** Sluice at two sizes (growth should scale with the message), and the SDK for reference. */
async function measureMemoryCases(): Promise<MemoryResult[]> {
  const full = textTranscript();
  const half = textTranscript({ targetBytes: full.bytes.length / 2 });
  return [
    await measureMemory('sluice', half),
    await measureMemory('sluice', full),
    await measureMemory('sdk', full),
  ];
}

// ---------------------------------------------------------------------------------------------
// Report

function speedRows(results: CaseResult[]): string[][] {
  const rows: string[][] = [];
  for (const result of results) {
    const label = `${result.benchCase.name}, ${result.benchCase.chunking}`;
    const ratio = speedup(result);
    for (const impl of IMPLS) {
      const summary = result.summaries[impl];
      const capped = summary.capped
        ? `capped: ${summary.events}/${result.benchCase.transcript.events} events`
        : '';
      rows.push([
        label,
        impl,
        String(summary.runs),
        formatNumber(summary.mbPerSec),
        formatNumber(summary.eventsPerSec),
        formatNumber(summary.cpuMs),
        formatNumber(summary.wallMs),
        impl === 'sdk' ? '1.00' : formatRatio(ratio.wall, ratio.lowerBound),
        impl === 'sdk' ? '1.00' : formatRatio(ratio.cpu, ratio.lowerBound),
        capped,
      ]);
    }
  }
  return rows;
}

function memoryRows(results: MemoryResult[]): string[][] {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return results.map((result) => [
    `(a) ${formatMB(result.sseBytes)} text`,
    result.impl,
    mb(result.messageBytes),
    mb(result.peakGrowth),
    `${(result.peakGrowth / result.messageBytes).toFixed(1)}x`,
    mb(result.retained),
    `${(result.retained / result.messageBytes).toFixed(1)}x`,
  ]);
}

/** Peak live heap over the message text, Sluice and SDK on the full (a) transcript. */
function memoryVerdict(memory: MemoryResult[]): string {
  const [sluice, sdk] = [memory.at(-2)!, memory.at(-1)!];
  const times = (result: MemoryResult) => `${(result.peakGrowth / result.messageBytes).toFixed(1)}x`;
  return `memory (a): peak ${times(sluice)} the text (sdk ${times(sdk)})`;
}

function goalLine(results: CaseResult[]): string {
  const verdicts = results.map(({ benchCase, ...result }) => {
    const ratio = speedup({ benchCase, ...result });
    const verdict = ratio.judged >= benchCase.goal ? 'PASS' : 'MISS';
    return `${benchCase.id} ${benchCase.chunking}: ${formatRatio(ratio.judged, ratio.lowerBound)} (goal ≥${benchCase.goal}x) ${verdict}`;
  });
  return `goals: ${verdicts.join(' · ')}`;
}

function environment(): Record<string, string | number> {
  return {
    ...machine(),
    sdk: sdkVersion(),
  };
}

function sdkVersion(): string {
  const manifest: unknown = JSON.parse(
    readFileSync(new URL('../node_modules/@anthropic-ai/sdk/package.json', import.meta.url), 'utf8'),
  );
  const version = (manifest as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

function writeJson(
  results: CaseResult[],
  memory: MemoryResult[],
  load: { start: string; end: string },
): string {
  const file = new URL('./results/stream.json', import.meta.url);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    environment: { ...environment(), loadAverageStart: load.start, loadAverageEnd: load.end },
    gcExposed: canCollectGarbage,
    cases: results.map((result) => ({
      name: result.benchCase.name,
      chunking: result.benchCase.chunking,
      chunks: result.benchCase.chunks.length,
      sseBytes: result.benchCase.transcript.bytes.length,
      events: result.benchCase.transcript.events,
      goal: result.benchCase.goal,
      sdkCapMs: Number.isFinite(result.benchCase.capMs.sdk) ? result.benchCase.capMs.sdk : null,
      speedup: speedup(result),
      pass: speedup(result).judged >= result.benchCase.goal,
      impls: Object.fromEntries(
        IMPLS.map((impl) => [impl, { ...result.summaries[impl], recordsSeen: result.recordsSeen[impl] }]),
      ),
    })),
    memory,
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file.pathname;
}

function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  // Other processes competing for the CPUs make wall times noisy; the load says how much.
  const loadAtStart = loadAverage();
  const cases = buildCases();
  const results: CaseResult[] = [];
  for (const benchCase of cases) {
    console.error(`measuring ${benchCase.name}, ${benchCase.chunking}…`);
    results.push(await measureCase(benchCase));
  }
  const memory = await measureMemoryCases();

  console.log(
    formatTable(
      ['case', 'impl', 'runs', 'MB/s', 'events/s', 'CPU ms', 'wall ms', 'ratio', 'CPU ratio', ''],
      speedRows(results),
    ),
  );
  console.log();
  console.log(
    formatTable(
      ['memory (live heap growth)', 'impl', 'text', 'peak', 'peak/text', 'retained', 'retained/text'],
      memoryRows(memory),
    ),
  );
  console.log();
  console.log(
    `medians of the runs; MB = 10^6 bytes of SSE; CPU = process user+system (GC threads included); ` +
      'ratio = Sluice MB/s ÷ SDK MB/s by wall time, CPU ratio the same by CPU time; a goal is judged on the ' +
      `lower of the two. Load average at the start: ${loadAtStart}, at the end: ${loadAverage()} (${cpus().length} CPUs).`,
  );
  const caps = results
    .filter((result) => Number.isFinite(result.benchCase.capMs.sdk))
    .map((result) => `${result.benchCase.chunking} after ${result.benchCase.capMs.sdk / 1000} s`);
  if (caps.length > 0) {
    console.log(
      `SDK (b) runs stop (${caps.join(', ')}; BENCH_SDK_CAP_S) and are rated on the prefix they processed; ` +
        'its cost per delta grows with the input, so "≥" ratios are lower bounds.',
    );
  }
  console.log(
    canCollectGarbage
      ? `memory: heapUsed over the baseline after a full GC, every ${MEMORY_SAMPLE_EVERY_CHUNKS} chunks (peak) ` +
          'and at the end with the final message held (retained).'
      : 'memory: heapUsed over the baseline, garbage included: run with --expose-gc for live-heap figures.',
  );
  const env = environment();
  console.log(
    `${goalLine(results)} · ${memoryVerdict(memory)} | Node ${env.node} ${env.platform}, ${env.cpu}, @anthropic-ai/sdk ${env.sdk}`,
  );
  console.error(
    `results written to ${writeJson(results, memory, { start: loadAtStart, end: loadAverage() })}`,
  );
}

await main();

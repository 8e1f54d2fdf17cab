import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoadAgent, type Format, FrameCounter, runLoad, type Seen } from '../../bench/gateway/load.ts';
import { anthropicRequest, EXPECTED_DELTAS, openaiRequest } from '../../bench/gateway/requests.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';

// 200 tokens/s: a delta every 5 ms, so a 64-delta stream takes about a third of a second.
const GAP_MS = 5;
const N = 3;

describe('gateway bench load generator', () => {
  let simulator: Simulator;
  const agent = createLoadAgent();

  beforeAll(async () => {
    simulator = await Simulator.start({ port: 0, pacing: { ttftMs: 0, tokensPerSecond: 1000 / GAP_MS } });
  });
  afterAll(async () => {
    agent.destroy();
    await simulator.close();
  });

  it.each([
    ['anthropic', anthropicRequest],
    ['openai', openaiRequest],
  ] as const)('times every frame of N concurrent %s streams', async (_format, build) => {
    const result = await runLoad({
      request: build(simulator.url),
      concurrency: N,
      expectedDeltas: EXPECTED_DELTAS,
      agent,
    });
    expect(result).toMatchObject({ streams: N, errors: 0, stalled: 0, deltas: N * EXPECTED_DELTAS });
    // Bookkeeping frames (message_start, [DONE], …) come on top of the deltas.
    expect(result.frames).toBeGreaterThan(result.deltas);
    expect(result.ttft.count).toBe(N);
    expect(result.ttft.p50).toBeGreaterThan(0);
    expect(result.ttft.p99).toBeGreaterThanOrEqual(result.ttft.p50);
    expect(result.ttft.p99).toBeLessThan(1000);
    expect(result.gap.count).toBe(N * (EXPECTED_DELTAS - 1));
    // The simulator paces the deltas: the median gap is its pace, give or take timer slack.
    expect(result.gap.p50).toBeGreaterThan(GAP_MS * 0.5);
    expect(result.gap.p50).toBeLessThan(GAP_MS * 4);
  });

  it('counts a stream that goes quiet as stalled, and a cut or an error status as an error', async () => {
    const stalling = anthropicRequest(simulator.url, {
      'x-sluice-fault': JSON.stringify({ stallAfterDeltas: 3, stallMs: 5000 }),
    });
    const stalled = await runLoad({
      request: stalling,
      concurrency: 1,
      expectedDeltas: EXPECTED_DELTAS,
      stallMs: 150,
      deadlineMs: 400,
      agent,
    });
    expect(stalled).toMatchObject({ streams: 1, errors: 0, stalled: 1, deltas: 3 });

    const cut = anthropicRequest(simulator.url, { 'x-sluice-fault': JSON.stringify({ dropAfterEvents: 6 }) });
    const dropped = await runLoad({ request: cut, concurrency: 1, expectedDeltas: EXPECTED_DELTAS, agent });
    expect(dropped).toMatchObject({ streams: 1, errors: 1, stalled: 0 });

    const failing = anthropicRequest(simulator.url, { 'x-sluice-fault': JSON.stringify({ status: 529 }) });
    const failed = await runLoad({
      request: failing,
      concurrency: 2,
      expectedDeltas: EXPECTED_DELTAS,
      agent,
    });
    expect(failed).toMatchObject({ streams: 2, errors: 2, stalled: 0, deltas: 0 });
    expect(failed.errorSamples[0]).toMatch(/^HTTP 529/);
  });

  it('destroys what is still open at the deadline and counts it as stalled', async () => {
    const hanging = anthropicRequest(simulator.url, {
      'x-sluice-fault': JSON.stringify({ stallAfterDeltas: 1, stallMs: 5000 }),
    });
    const started = performance.now();
    const result = await runLoad({
      request: hanging,
      concurrency: 2,
      expectedDeltas: EXPECTED_DELTAS,
      deadlineMs: 200,
      agent,
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ streams: 2, errors: 0, stalled: 2, deltas: 2 });
  });

  it('splits frames across chunks and CRLF line ends', () => {
    const counter = new FrameCounter('anthropic');
    const body =
      'event: message_start\r\ndata: {}\r\n\r\nevent: content_block_delta\r\ndata: {"text":"a"}\r\n\r\n' +
      'event: content_block_delta\r\ndata: {"text":"event: message_stop"}\r\n\r\nevent: message_stop\r\ndata: {}\r\n\r\n';
    const seen = { frames: 0, deltas: 0, terminal: false };
    for (let i = 0; i < body.length; i += 7) {
      const part = counter.push(Buffer.from(body.slice(i, i + 7)));
      seen.frames += part.frames;
      seen.deltas += part.deltas;
      seen.terminal ||= part.terminal;
    }
    expect(seen).toEqual({ frames: 4, deltas: 2, terminal: true });
  });

  it.each([
    ['anthropic', ANTHROPIC_BODY],
    ['openai', OPENAI_BODY],
  ] as const)(
    'counts %s frames in bytes exactly as the string-matching counter did, however the body is cut',
    (format, text) => {
      for (const lineEnd of ['\n', '\r\n']) {
        const body = Buffer.from(text.replaceAll('\n', lineEnd), 'utf8');
        const expected = totals(new StringFrameCounter(format), [body.toString('utf8')]);
        expect(expected.frames).toBeGreaterThan(4);
        for (const size of [1, 2, 3, 5, 7, 13, 64, body.length]) {
          const chunks: Buffer[] = [];
          for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size));
          expect(
            totals(new FrameCounter(format), chunks),
            `${format} ${JSON.stringify(lineEnd)} in ${size}s`,
          ).toEqual(expected);
        }
      }
    },
  );
});

// Frames of both formats with the cases a byte scanner can get wrong: multi-byte characters
// (cut anywhere), blank frames, a marker quoted inside a JSON string, error frames.
const ANTHROPIC_BODY =
  'event: message_start\ndata: {"type":"message_start"}\n\n' +
  'event: content_block_delta\ndata: {"delta":{"text":"rivière 日本 \\"event: message_stop\\""}}\n\n' +
  ' \t\n\n' +
  'event: ping\ndata: {"type":"ping"}\n\n' +
  'event: content_block_delta\ndata: {"delta":{"text":"é"}}\n\n' +
  'event: error\ndata: {"type":"error","error":{"message":"Überlastet — 日本"}}\n\n' +
  'event: message_stop\ndata: {}\n\n' +
  'event: content_block_delta\ndata: {"cut":';
const OPENAI_BODY =
  'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n' +
  'data: {"choices":[{"delta":{"content":"日本 rivière"}}]}\n\n' +
  '\n\n' +
  'data: {"choices":[{"delta":{"content":"\\"content\\":\\"\\""}}]}\n\n' +
  'data: {"error":{"message":"Überlastet"}}\n\n' +
  'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n' +
  'data: [DONE]\n\n';

function totals(counter: { push(chunk: never): Seen }, chunks: (string | Buffer)[]) {
  const sum = { frames: 0, deltas: 0, terminal: false, errors: [] as string[] };
  for (const chunk of chunks) {
    const seen = counter.push(chunk as never);
    sum.frames += seen.frames;
    sum.deltas += seen.deltas;
    sum.terminal ||= seen.terminal;
    if (seen.error !== undefined) sum.errors.push(seen.error);
  }
  return sum;
}

/** The load generator's counter before it read bytes: decoded text, CRLFs replaced, string tests. */
class StringFrameCounter {
  private pending = '';
  private readonly format: Format;

  constructor(format: Format) {
    this.format = format;
  }

  push(chunk: string): Seen {
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
    else if (frame.includes('"content":"') && !frame.includes('"content":""')) seen.deltas++;
  }
}

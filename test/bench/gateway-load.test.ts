import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoadAgent, FrameCounter, runLoad } from '../../bench/gateway/load.ts';
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
      const part = counter.push(body.slice(i, i + 7));
      seen.frames += part.frames;
      seen.deltas += part.deltas;
      seen.terminal ||= part.terminal;
    }
    expect(seen).toEqual({ frames: 4, deltas: 2, terminal: true });
  });
});

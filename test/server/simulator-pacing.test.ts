import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { simulatedEvents } from '../../src/providers/simulated/answer-events.ts';
import { playbackSteps } from '../../src/providers/simulated/provider.ts';
import { anthropicFrames } from '../../src/server/simulator/anthropic-frames.ts';
import { PacingWheel, StreamPause } from '../../src/server/simulator/pacing-wheel.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { encodeSSE } from '../../src/stream/sse.ts';

const REQUEST = {
  model: 'default',
  max_tokens: 12,
  stream: true,
  messages: [{ role: 'user' as const, content: 'Write a long essay on rivers, in detail.' }],
};

describe('PacingWheel', () => {
  afterEach(() => vi.useRealTimers());

  it('runs what is due in the same millisecond on one timer, in order, and not what was cancelled', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const wheel = new PacingWheel();
    const ran: string[] = [];
    wheel.schedule(200, () => ran.push('a'));
    const cancelled = () => ran.push('cancelled');
    const due = wheel.schedule(200, cancelled);
    wheel.schedule(200, () => ran.push('b'));
    wheel.schedule(300, () => ran.push('later'));
    expect(vi.getTimerCount()).toBe(2);
    wheel.cancel(due, cancelled);
    vi.advanceTimersByTime(199);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['a', 'b']);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['a', 'b', 'later']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a pause ends false as soon as its response closes, and its slot no longer runs it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const wheel = new PacingWheel();
    const closed = new AbortController();
    const pause = new StreamPause(wheel, closed.signal);
    const first = pause.for(100);
    vi.advanceTimersByTime(100);
    expect(await first).toBe(true);
    const second = pause.for(100);
    closed.abort();
    expect(await second).toBe(false);
    expect(await pause.for(100)).toBe(false);
    // The cancelled wait's timer is gone too: a stall cut short does not hold the process.
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('playbackSteps', () => {
  const events = simulatedEvents(REQUEST);
  const deltas = events.filter((event) => event.type === 'content_block_delta').length;
  const pacing = { ttftMs: 50, tokensPerSecond: 10 };

  it('paces the deltas: the first after the TTFT, the others 1000 / tokensPerSecond apart, the rest at once', () => {
    const steps = playbackSteps(events, undefined, pacing);
    expect(steps.map((step) => (step.kind === 'event' ? step.index : -1))).toEqual(events.map((_, i) => i));
    const delays = steps.map((step) => (step.kind === 'event' ? step.delayMs : -1));
    const firstDelta = events.findIndex((event) => event.type === 'content_block_delta');
    expect(delays[firstDelta]).toBe(50);
    expect(delays.filter((delay) => delay === 100)).toHaveLength(deltas - 1);
    expect(delays.filter((delay) => delay === 0)).toHaveLength(events.length - deltas);
  });

  it('plays the event faults: a drop, an error event, a stall', () => {
    expect(playbackSteps(events, { dropAfterEvents: 3 }, pacing)).toHaveLength(3);
    const erring = playbackSteps(events, { errorAfterDeltas: 2, message: 'Busy.' }, pacing);
    expect(erring.at(-1)).toEqual({
      kind: 'error',
      event: { type: 'error', error: { type: 'overloaded_error', message: 'Busy.' } },
    });
    const stalling = playbackSteps(events, { stallAfterDeltas: 2, stallMs: 30 }, pacing);
    expect(stalling.at(-1)).toEqual({ kind: 'stall', ms: 30 });
    expect(
      stalling.filter((step) => step.kind === 'event' && events[step.index]!.type === 'content_block_delta'),
    ).toHaveLength(2);
  });
});

describe('the simulator’s SSE frames', () => {
  it('are encoded once per cached answer and are the events’ own encoding, CRLF fault included', async () => {
    const events = simulatedEvents(REQUEST);
    const expected = events
      .map((event) => encodeSSE({ event: event.type, data: JSON.stringify(event) }))
      .join('');
    const simulator = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 2000 } });
    try {
      expect(await streamed(simulator.url)).toBe(expected);
      expect(await streamed(simulator.url, { crlf: true })).toBe(expected.replaceAll('\n', '\r\n'));
      const shared = anthropicFrames(events);
      expect(anthropicFrames(events)).toBe(shared);
      expect(Buffer.concat(shared).toString('utf8')).toBe(expected);
    } finally {
      await simulator.close();
    }
  });
});

describe('the simulator’s response headers', () => {
  it('reach the client even when a fault drops the stream before its first event', async () => {
    const simulator = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 0 } });
    try {
      const response = await headersThenCut(simulator.url, { dropAfterEvents: 0 });
      expect(response).toEqual({
        status: 200,
        type: 'text/event-stream; charset=utf-8',
        body: '',
        complete: false,
      });
    } finally {
      await simulator.close();
    }
  });
});

function headersThenCut(url: string, fault: unknown) {
  return new Promise<{ status?: number; type?: string; body: string; complete: boolean }>(
    (resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'x-sluice-fault': JSON.stringify(fault) };
      const req = request(new URL('/v1/messages', url), { method: 'POST', headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8');
        });
        res.on('close', () =>
          resolve({
            status: res.statusCode,
            type: res.headers['content-type'],
            body,
            complete: res.complete,
          }),
        );
      });
      req.on('error', reject);
      req.end(JSON.stringify(REQUEST));
    },
  );
}

function streamed(url: string, fault?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault !== undefined) headers['x-sluice-fault'] = JSON.stringify(fault);
    const req = request(new URL('/v1/messages', url), { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(REQUEST));
  });
}

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { SseResponse } from '../../src/server/sse-response.ts';

/** A response that accepts writes until told it is full, as a socket to a slow reader does. */
class FakeResponse extends EventEmitter {
  readonly written: string[] = [];
  headers: Record<string, string> = {};
  full = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  socket = { setNoDelay() {} };
  writeHead(_status: number, headers: Record<string, string>) {
    this.headers = headers;
  }
  flushHeaders() {}
  write(text: string): boolean {
    this.written.push(text);
    return !this.full;
  }
  end() {
    this.writableEnded = true;
    this.writableFinished = true;
    this.emit('close');
  }
}

const ping: StreamEvent = { type: 'ping' };

function open(options: { pingIntervalMs?: number } = {}) {
  const res = new FakeResponse();
  const sse = new SseResponse(res as unknown as ServerResponse, {
    streamId: 'str_1',
    pingIntervalMs: options.pingIntervalMs ?? 0,
  });
  return { res, sse };
}

describe('SseResponse', () => {
  it('sends the streaming headers and numbers every event', async () => {
    const { res, sse } = open();
    expect(res.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'sluice-stream-id': 'str_1',
    });
    // A client keeping up costs no await: nothing to wait on.
    expect(sse.write([ping, { type: 'message_stop' }])).toBeUndefined();
    expect(sse.write([ping])).toBeUndefined();
    expect(res.written.join('')).toBe(
      'id: 1\nevent: ping\ndata: {"type":"ping"}\n\nid: 2\nevent: message_stop\ndata: {"type":"message_stop"}\n\nid: 3\nevent: ping\ndata: {"type":"ping"}\n\n',
    );
    expect(sse.lastEventId).toBe(3);
  });

  it('waits for drain when the client is slow: the caller reads no further upstream meanwhile', async () => {
    const { res, sse } = open();
    res.full = true;
    let resolved = false;
    const pending = sse.write([ping]);
    expect(pending).toBeInstanceOf(Promise);
    const writing = pending!.then(() => {
      resolved = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    res.full = false;
    res.emit('drain');
    await writing;
    expect(resolved).toBe(true);
  });

  it('a client that leaves releases a pending write', async () => {
    const { res, sse } = open();
    res.full = true;
    const writing = sse.write([ping]);
    res.emit('close');
    await expect(writing).resolves.toBeUndefined();
  });

  it('sends a ping comment after an idle interval, and none while events flow', async () => {
    vi.useFakeTimers();
    try {
      const { res, sse } = open({ pingIntervalMs: 1000 });
      vi.advanceTimersByTime(999);
      expect(res.written).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(res.written).toEqual([': ping\n\n']);
      // An event restarts the idle interval.
      vi.advanceTimersByTime(900);
      void sse.write([ping]);
      vi.advanceTimersByTime(900);
      expect(res.written.filter((text) => text === ': ping\n\n')).toHaveLength(1);
      vi.advanceTimersByTime(100);
      expect(res.written.filter((text) => text === ': ping\n\n')).toHaveLength(2);
      sse.end();
      vi.advanceTimersByTime(5000);
      expect(res.written.filter((text) => text === ': ping\n\n')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

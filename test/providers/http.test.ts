import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, ConnectionError, RateLimitError } from '../../src/protocol/errors.ts';
import { postJson } from '../../src/providers/http.ts';

/** A server whose answers the tests set per path, counting the connections it accepted. */
let server: Server;
let base: string;
let connections = 0;
const open = new Set<ServerResponse>();
const routes: Record<string, (res: ServerResponse) => void> = {
  '/events': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: 1\n\ndata: 2\n\n');
  },
  '/endless': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n');
    open.add(res);
  },
  '/limited': (res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7', 'request-id': 'req_1' });
    res.end(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down.' } }));
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => routes[req.url ?? '']?.(res));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
});

async function readAll(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of body as AsyncIterable<Uint8Array>)
    text += decoder.decode(chunk, { stream: true });
  return text;
}

describe('postJson over Node HTTP', () => {
  it('streams the body of a 2xx answer and exposes its headers', async () => {
    const response = await postJson(`${base}/events`, { hello: 1 }, { headers: {}, signal: undefined });
    expect(response.headers.get('Content-Type')).toBe('text/event-stream');
    expect(await readAll(response.body)).toBe('data: 1\n\ndata: 2\n\n');
  });

  it('a failed status is its typed error, with the retry hint and request id of the headers', async () => {
    const failure = await postJson(`${base}/limited`, {}, { headers: {}, signal: undefined }).catch((e) => e);
    expect(failure).toBeInstanceOf(RateLimitError);
    expect(failure).toMatchObject({
      status: 429,
      retryAfterMs: 7000,
      requestId: 'req_1',
      message: 'Slow down.',
    });
  });

  it('aborting a call whose body was read in full leaves the pooled connection usable', async () => {
    const controller = new AbortController();
    const first = await postJson(`${base}/events`, {}, { headers: {}, signal: controller.signal });
    await readAll(first.body);
    const before = connections;
    // What the resilient stream does as every attempt ends; Node's own `signal` option would
    // destroy the socket here although the pool already holds it for the next request.
    controller.abort();
    const second = await postJson(`${base}/events`, {}, { headers: {}, signal: undefined });
    expect(await readAll(second.body)).toBe('data: 1\n\ndata: 2\n\n');
    expect(connections).toBe(before);
  });

  it('an abort mid-body ends the read at once and closes the connection', async () => {
    const controller = new AbortController();
    const response = await postJson(`${base}/endless`, {}, { headers: {}, signal: controller.signal });
    const reading = readAll(response.body).then(
      () => 'ended',
      (error: Error) => error,
    );
    const [res] = [...open];
    const closed = once(res!, 'close');
    controller.abort();
    expect(await reading).toBeInstanceOf(Error);
    await closed;
    open.clear();
  });

  it('an abort before the answer arrives rejects with a typed error', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      postJson(`${base}/events`, {}, { headers: {}, signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortError);
  });

  it('a refused connection is a ConnectionError', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    await expect(
      postJson(`http://127.0.0.1:${port}/`, {}, { headers: {}, signal: undefined }),
    ).rejects.toBeInstanceOf(ConnectionError);
  });

  it('sends through the given fetch instead when there is one', async () => {
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const response = await postJson(
      `${base}/events`,
      {},
      { headers: {}, signal: undefined, fetch: counting },
    );
    expect(await readAll(response.body)).toBe('data: 1\n\ndata: 2\n\n');
    expect(seen).toEqual([`${base}/events`]);
  });
});

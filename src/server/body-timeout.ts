import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import type { preParsingAsyncHookHandler } from 'fastify';
import { requestTimeout } from './errors.ts';

export interface BodyTimeouts {
  /** The longest pause between two reads of a body; 0: none. */
  idleMs: number;
  /** The longest a whole body may take to arrive; 0: none. */
  totalMs: number;
}

/**
 * Cuts a request whose body stops arriving (nginx's `client_body_timeout`): a client that
 * sends its headers and part of a body, then nothing, would otherwise hold its connection
 * and a socket for ever. The body is watched only when it is not already in hand, as a small
 * body arriving with the headers is; the cut is a 408 in the route's error shape (the body
 * reader fails with it), and the connection is closed after it.
 */
export function bodyTimeoutHook(limits: BodyTimeouts): preParsingAsyncHookHandler {
  return async (request, reply, payload) => {
    const raw = request.raw;
    if ((limits.idleMs <= 0 && limits.totalMs <= 0) || raw.complete || !expectsBody(raw)) return payload;
    return watched(payload, limits, reply.raw);
  };
}

function watched(
  payload: NodeJS.ReadableStream,
  limits: BodyTimeouts,
  response: ServerResponse,
): NodeJS.ReadableStream {
  let idle: NodeJS.Timeout | undefined;
  let total: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(idle);
    clearTimeout(total);
  };
  const cut = (what: string) => {
    stop();
    payload.unpipe(relay);
    relay.destroy(requestTimeout(what));
  };
  const armIdle = () => {
    if (limits.idleMs <= 0) return;
    clearTimeout(idle);
    idle = setTimeout(cut, limits.idleMs, `The request body paused for more than ${limits.idleMs} ms`);
  };
  const relay = new Transform({
    transform(chunk, _encoding, callback) {
      armIdle();
      callback(null, chunk);
    },
    flush(callback) {
      stop();
      callback();
    },
  });
  if (limits.totalMs > 0) {
    total = setTimeout(cut, limits.totalMs, `The request body took more than ${limits.totalMs} ms to arrive`);
  }
  armIdle();
  payload.once('error', (error) => {
    stop();
    relay.destroy(error as Error);
  });
  relay.once('close', stop);
  // A request answered without its body being read (a 413 on its content-length) needs no timer.
  response.once('close', stop);
  // Its reader listens for the timeout's error; with no reader left, the error has no one to tell.
  relay.on('error', () => {});
  payload.pipe(relay);
  return relay;
}

function expectsBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return (length !== undefined && length !== '0') || raw.headers['transfer-encoding'] !== undefined;
}

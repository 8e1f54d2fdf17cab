import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { writableReady } from '../stream/writable.ts';

/** A chunked text/plain response taken over from Fastify: `/streaming_chat` and its resume. */
export interface TextResponse {
  /** Resolves when the client can take more, so a slow reader slows the writer instead of filling memory. */
  write(chunk: string | Uint8Array): Promise<void>;
  end(trailer?: string): void;
  /** Called once when the connection closes, whoever closed it. */
  onClose(listener: () => void): void;
}

/** Takes the response over from Fastify: chunked text/plain, every write flushed at once. */
export function openTextResponse(reply: FastifyReply, headers: Record<string, string>): TextResponse {
  // Headers set by hooks (CORS, request ids) would be lost by writing the head ourselves.
  const hookHeaders = reply.getHeaders() as OutgoingHttpHeaders;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...hookHeaders,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-cache',
    // nginx would otherwise buffer the whole answer; browsers would sniff the first KB before showing any.
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  return {
    async write(chunk) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await writableReady(res);
    },
    end(trailer) {
      if (res.destroyed || res.writableEnded) return;
      if (trailer === undefined) res.end();
      else res.end(trailer);
    },
    onClose(listener) {
      res.once('close', listener);
    },
  };
}

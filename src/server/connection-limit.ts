import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { RateLimitError } from '../protocol/errors.ts';

/**
 * At most `max` open connections per client address; the next one is answered with a 429 in
 * Anthropic's shape (no request has been read: its path is unknown) and closed. Off by
 * default: behind a load balancer every connection comes from the balancer's address.
 */
export function limitConnectionsPerAddress(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  // Before the HTTP server's own listener, so a refused socket never reaches its parser.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      refuse(socket, max);
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

function refuse(socket: Socket, max: number): void {
  const body = JSON.stringify(
    new RateLimitError(
      `Too many connections from this address (at most ${max} at once); close some, or reuse them with keep-alive.`,
    ).toBody(),
  );
  const response = `HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`;
  // Written and closed at once; whatever the client sends is never parsed.
  socket.write(response, () => socket.destroy());
}

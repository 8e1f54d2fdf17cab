import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the gateway that cuts the response of the request it is armed for
 * after exactly `limit` bytes (headers included), as a network does: the client's socket is
 * ended mid-response and the gateway's side is destroyed. Armed per request, not per
 * connection, because the client's keep-alive pool reuses connections between calls.
 */
export class CuttingProxy {
  private server: Server | undefined;
  private armed: number | undefined;
  /** GETs (reattaches) still to cut, and how far into their body. */
  private getCuts = 0;
  private getCutBodyBytes = 0;
  private readonly sockets = new Set<Socket>();
  /** Called for every request seen after the cut, with its socket (the reattach). */
  onRequestAfterCut: ((client: Socket) => boolean) | undefined;
  /** The bytes of the last response that was not cut: how long an answer is on the wire. */
  lastResponseBytes = 0;
  headerBytes = 0;

  async start(target: string): Promise<string> {
    const { hostname, port } = new URL(target);
    this.server = createTcpServer((client) => {
      const upstream = connect(Number(port), hostname);
      this.sockets.add(client).add(upstream);
      let limit: number | undefined;
      let sent = 0;
      let cut = false;
      let heldBack = false;
      let head = '';
      // A GET's cut, in bytes after its headers (their length is known once they came).
      let bodyLimit: number | undefined;
      client.on('data', (chunk: Buffer) => {
        const method = /^[A-Z]+ /.exec(chunk.toString('latin1', 0, 8))?.[0];
        if (method !== undefined) {
          if (this.armed !== undefined && method === 'POST ') {
            limit = this.armed;
            this.armed = undefined;
            cut = false;
          } else if (method === 'GET ' && this.getCuts > 0) {
            this.getCuts--;
            bodyLimit = this.getCutBodyBytes;
            cut = false;
          } else if (method === 'GET ' && this.onRequestAfterCut?.(client)) {
            // Held: the request never reaches the gateway (a reattach that hangs).
            heldBack = true;
            return;
          }
          sent = 0;
          head = '';
        }
        if (!heldBack) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (cut || heldBack) return;
        if (head.length < 4096 && !head.includes('\r\n\r\n')) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end >= 0) this.headerBytes = end + 4;
          if (end >= 0 && bodyLimit !== undefined) {
            limit = end + 4 + bodyLimit;
            bodyLimit = undefined;
          }
        }
        if (limit !== undefined && sent + chunk.length >= limit) {
          client.end(chunk.subarray(0, limit - sent));
          upstream.destroy();
          cut = true;
          limit = undefined;
          return;
        }
        sent += chunk.length;
        this.lastResponseBytes = sent;
        client.write(chunk);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', () => {
        if (!cut) client.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('The proxy has no port.');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Half way through the last whole answer's body, in bytes from the start of its response. */
  bodyMiddle(): number {
    return this.headerBytes + Math.floor((this.lastResponseBytes - this.headerBytes) / 2);
  }

  /** The next request's response is cut after `limit` bytes. */
  cutNext(limit: number): void {
    this.armed = limit;
  }

  /** The next `count` GETs' responses are cut `bodyBytes` bytes after their headers. */
  cutGets(count: number, bodyBytes: number): void {
    this.getCuts = count;
    this.getCutBodyBytes = bodyBytes;
  }

  async close(): Promise<void> {
    // The client's keep-alive pool holds connections open: a proxy going away cuts them.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

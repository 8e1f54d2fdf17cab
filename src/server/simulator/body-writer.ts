import type { ServerResponse } from 'node:http';
import type { Fault } from '../../providers/simulated/faults.ts';
import { writableReady } from '../../stream/writable.ts';

/** Writes a response body through the byte-level faults, respecting backpressure. */
export class BodyWriter {
  private readonly res: ServerResponse;
  private readonly fault: Fault | undefined;
  private written = 0;

  constructor(res: ServerResponse, fault: Fault | undefined) {
    this.res = res;
    this.fault = fault;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // Not flushed on their own: the first frames (message_start…) follow at once, and go with
    // them in one write instead of a system call of their own on every stream.
    res.socket?.setNoDelay(true);
  }

  /**
   * False once the connection is gone (the client left, or a fault dropped it). A plain
   * boolean when the frame went out at once, as nearly every frame does: no promise per token.
   */
  write(frame: string | Buffer): boolean | Promise<boolean> {
    if (this.res.destroyed) return false;
    if (this.fault !== undefined) return this.writeThroughFault(this.fault, frame);
    // The frame as it is, with no copy (and nothing for nothing: an empty chunk would end a
    // chunked body).
    if (frame.length === 0) return true;
    if (this.res.write(frame)) return !this.res.destroyed;
    return writableReady(this.res).then(() => !this.res.destroyed);
  }

  private async writeThroughFault(fault: Fault, frame: string | Buffer): Promise<boolean> {
    let bytes = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
    const limit = fault.dropAfterBytes;
    const dropping = limit !== undefined && this.written + bytes.length >= limit;
    if (dropping) bytes = bytes.subarray(0, limit - this.written);
    const size = fault.chunkSize ?? bytes.length;
    for (let offset = 0; offset < bytes.length; offset += size) {
      if (!this.res.write(bytes.subarray(offset, offset + size))) await writableReady(this.res);
      if (this.res.destroyed) return false;
    }
    this.written += bytes.length;
    if (dropping) {
      this.drop();
      return false;
    }
    return true;
  }

  /** Ends the body normally, or cuts the connection when the answer is incomplete. */
  finish(complete: boolean): void {
    if (complete) this.res.end();
    else this.drop();
  }

  private drop(): void {
    // Let what was written reach the client, then close the socket mid-body: a dropped connection.
    // The headers go first even with no body yet (a drop before the first event); once they
    // are on their way this writes nothing (headersSent is true as soon as they are made).
    this.res.flushHeaders();
    this.res.socket?.end();
  }
}

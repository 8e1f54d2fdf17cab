import type { Socket } from 'node:net';
import { InvalidRequestError, type SluiceError } from '../protocol/errors.ts';
import { type ErrorShapes, requestTimeout } from './errors.ts';

/** What Node's HTTP parser reports: its error code, and the bytes it failed on. */
type ParserError = Error & { code?: string; rawPacket?: Buffer };

/**
 * Errors of Node's HTTP parser (a malformed request, headers too large, a request too slow),
 * which come before Fastify has a request: answered in the shape of the path the request
 * line names, when it got that far, and the connection closed.
 */
export function answerParserError(thrown: Error, socket: Socket, shapes: ErrorShapes): void {
  const error = thrown as ParserError;
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let sluice: SluiceError;
  let reason: string;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    sluice = requestTimeout('The request took too long to arrive');
    reason = 'Request Timeout';
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    sluice = new InvalidRequestError(
      'The request headers are larger than this gateway accepts; send fewer or smaller ones.',
      { status: 431 },
    );
    reason = 'Request Header Fields Too Large';
  } else {
    sluice = new InvalidRequestError('The request is not valid HTTP/1.1.');
    reason = 'Bad Request';
  }
  if (socket.writable) {
    const body = JSON.stringify(shapes.forUrl(requestPath(error.rawPacket))(sluice));
    socket.write(
      `HTTP/1.1 ${sluice.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The path of the request line at the start of the bytes the parser failed on, if it is there. */
function requestPath(packet: Buffer | undefined): string | undefined {
  if (!packet) return undefined;
  const line = packet.subarray(0, 2048).toString('latin1');
  return /^[A-Z]+ (\/\S*)/.exec(line)?.[1];
}

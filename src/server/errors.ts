import type { FastifyError, FastifyReply } from 'fastify';
import {
  InvalidRequestError,
  NotFoundError,
  RequestTooLargeError,
  SluiceError,
  TimeoutError,
} from '../protocol/errors.ts';

/** The body a route's callers expect for an error (Anthropic's, or OpenAI's on its route). */
export type ErrorBodyOf = (error: SluiceError) => unknown;

export const anthropicErrorBody: ErrorBodyOf = (error) => error.toBody();

/**
 * Any failure of the gateway as the Anthropic error its HTTP caller sees: its status, the error body, and the
 * server's retry hint. Never a stack trace or an upstream key: only our own messages, which
 * say what to do, reach the caller; anything unexpected is a plain api_error (see
 * `isInternal`: its cause goes to the log, with the request id the caller also gets).
 */
export function errorForCaller(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const fastify = error as Partial<FastifyError>;
  if (fastify.statusCode === 413) {
    return new RequestTooLargeError('The request body is larger than this gateway accepts.');
  }
  if (fastify.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new InvalidRequestError('Send the body as JSON with content-type: application/json.', {
      status: 415,
    });
  }
  if (fastify.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new InvalidRequestError('The request body is empty: send a JSON object.');
  }
  if (fastify.code === 'FST_ERR_BAD_URL') {
    return new InvalidRequestError('The request URL is malformed (an invalid percent-encoding?).');
  }
  if (fastify.statusCode === 400) return new InvalidRequestError('The request body is not valid JSON.');
  if (fastify.statusCode === 404) return new NotFoundError('Not found.');
  if (fastify.statusCode === 408) return requestTimeout('The request took too long to arrive');
  return new SluiceError('api_error', 'The gateway failed to handle the request; see its log.');
}

/** A failure the gateway did not foresee (a bug, not a caller's mistake or an upstream's answer). */
export function isInternal(error: unknown): boolean {
  if (error instanceof SluiceError) return false;
  const status = (error as Partial<FastifyError>).statusCode;
  return status === undefined || status >= 500;
}

/** The caller sent its request too slowly; 408 so that no client mistakes it for an upstream timeout. */
export function requestTimeout(what: string): SluiceError {
  return new TimeoutError(`${what}; send the whole request without pausing, then retry.`, { status: 408 });
}

/** Sends the error body (Anthropic's unless given) with the matching status and `retry-after` when the error has one. */
export function sendError(
  reply: FastifyReply,
  error: SluiceError,
  body: unknown = error.toBody(),
): FastifyReply {
  if (error.retryAfterMs !== undefined)
    reply.header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
  return reply.code(error.status >= 400 && error.status < 600 ? error.status : 500).send(body);
}

/**
 * The error body each path's callers expect: routes register theirs (the OpenAI route its
 * own shape), and everything the gateway answers before a route runs (the key check, a
 * malformed body, a timeout, a parser error, an unknown path) is shaped by the path asked for.
 */
export class ErrorShapes {
  private readonly byPath = new Map<string, ErrorBodyOf>();

  register(path: string, body: ErrorBodyOf): void {
    this.byPath.set(path, body);
  }

  /**
   * The shape for a request URL: that of the registered path it starts with (so a malformed
   * or mistyped URL under a route still gets the route's shape); Anthropic's otherwise.
   */
  forUrl(url: string | undefined): ErrorBodyOf {
    if (url === undefined) return anthropicErrorBody;
    for (const [path, body] of this.byPath) if (url.startsWith(path)) return body;
    return anthropicErrorBody;
  }
}

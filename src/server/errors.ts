import type { FastifyError, FastifyReply } from 'fastify';
import { InvalidRequestError, NotFoundError, RequestTooLargeError, SluiceError } from '../protocol/errors.ts';

/**
 * Any failure of the gateway as the Anthropic error its HTTP caller sees: its status, the error body, and the
 * server's retry hint. Never a stack trace or an upstream key: only our own messages, which
 * say what to do, reach the caller; anything unexpected is a plain api_error.
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
  if (fastify.statusCode === 400) return new InvalidRequestError('The request body is not valid JSON.');
  if (fastify.statusCode === 404) return new NotFoundError('Not found.');
  return new SluiceError('api_error', 'The gateway failed to handle the request; see its log.');
}

/** Sends the error body (Anthropic's unless given) with the matching status and `retry-after` for 429s. */
export function sendError(
  reply: FastifyReply,
  error: SluiceError,
  body: unknown = error.toBody(),
): FastifyReply {
  if (error.retryAfterMs !== undefined)
    reply.header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
  return reply.code(error.status >= 400 && error.status < 600 ? error.status : 500).send(body);
}

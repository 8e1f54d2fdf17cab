import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type ErrorType,
  errorTypeForStatus,
  InvalidRequestError,
  RequestTooLargeError,
  SluiceError,
} from '../../protocol/errors.ts';
import { openAIErrorBody } from '../../providers/openai/server/response.ts';
import type { Fault } from '../../providers/simulated/faults.ts';

/** The simulator's HTTP plumbing: JSON in, JSON out, and errors in the gateway's own bodies. */

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RequestTooLargeError(`The request body is larger than ${limit} bytes.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The error body the gateway sends on the same route: OpenAI's on /v1/chat/completions, else Anthropic's. */
export function errorBodyFor(error: SluiceError, openai: boolean): unknown {
  return openai ? openAIErrorBody(error) : error.toBody();
}

export function sendError(res: ServerResponse, error: unknown, openai: boolean): void {
  const sluice = error instanceof SluiceError ? error : new SluiceError('api_error', 'The simulator failed.');
  sendJson(res, sluice.status, errorBodyFor(sluice, openai));
}

/** A scripted HTTP failure: its status, retry headers and body, as an upstream would send them. */
export function sendFault(res: ServerResponse, fault: Fault, openai: boolean): void {
  const status = fault.status ?? 500;
  if (fault.retryAfter !== undefined) res.setHeader('retry-after', fault.retryAfter);
  if (fault.retryAfterMs !== undefined) res.setHeader('retry-after-ms', String(fault.retryAfterMs));
  if (fault.shouldRetry !== undefined) res.setHeader('x-should-retry', String(fault.shouldRetry));
  // A script may name any type, a made-up one included: it plays what an upstream might send.
  const type = (fault.errorType ?? errorTypeForStatus(status)) as ErrorType;
  const error = new SluiceError(type, fault.message ?? `Simulated HTTP ${status}.`, { status });
  sendJson(res, status, errorBodyFor(error, openai));
}

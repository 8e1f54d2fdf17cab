import type { z } from 'zod';
import { InvalidRequestError } from './errors.ts';

/** `messages.0.content: expected string` — the path of the bad field and what was expected. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

/** Validates a request body; a failure is an `InvalidRequestError` naming the bad field. */
export function parseRequestBody<T>(schema: z.ZodType<T>, body: unknown): T {
  requireJsonObject(body);
  const result = schema.safeParse(body);
  if (!result.success) throw new InvalidRequestError(describeZodError(result.error));
  return result.data;
}

/**
 * A body that is not a JSON object at all (none, text sent as text/plain, an array) says
 * what to send: the schema's "(body): expected object, received string" does not.
 */
export function requireJsonObject(body: unknown): asserts body is Record<string, unknown> {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return;
  throw new InvalidRequestError(
    `The request body must be a JSON object, sent with content-type: application/json; this one is ${kindOf(body)}.`,
  );
}

function kindOf(body: unknown): string {
  if (body === undefined) return 'empty';
  if (body === null) return 'null';
  if (Array.isArray(body)) return 'an array';
  // Fastify hands a text/plain body over as a string.
  if (typeof body === 'string') return 'text';
  return `a ${typeof body}`;
}

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
  const result = schema.safeParse(body);
  if (!result.success) throw new InvalidRequestError(describeZodError(result.error));
  return result.data;
}

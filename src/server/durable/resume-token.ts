import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A stream's resume token: a random secret handed to the client that started the stream, so a
 * browser's EventSource (which cannot send headers) resumes with `?token=` instead of an API
 * key in the URL. The log keeps only its digest.
 */
export function newResumeToken(): string {
  return randomBytes(24).toString('base64url');
}

export function digestToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` is the one whose digest is `digest`, compared in constant time. */
export function tokenMatches(digest: string, token: string): boolean {
  const expected = Buffer.from(digest, 'hex');
  const given = createHash('sha256').update(token).digest();
  return expected.length === given.length && timingSafeEqual(expected, given);
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError } from '../protocol/errors.ts';

/**
 * Checks a request's key (`x-api-key`, or `Authorization: Bearer`, which the official SDKs
 * send) against the gateway's keys in constant time: digests of equal length are compared,
 * and every key is compared, so timing reveals neither the key nor which one matched.
 */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.filter((key) => key !== '').map(digest);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  /** The caller's key (for rate limits and logs, never in full), or an AuthenticationError. */
  check(headers: IncomingHttpHeaders): string | undefined {
    if (!this.required) return undefined;
    const key = presentedKey(headers);
    if (key === undefined) {
      throw new AuthenticationError(NO_KEY);
    }
    if (!this.matches(key)) throw new AuthenticationError('Invalid API key.');
    return key;
  }

  /** Whether `key` is one of these keys, compared in constant time. */
  matches(key: string): boolean {
    const candidate = digest(key);
    let matched = false;
    for (const known of this.digests) matched = timingSafeEqual(candidate, known) || matched;
    return matched;
  }
}

/** The message of a request without a key. */
export const NO_KEY = 'No API key: send it in the x-api-key header, or in Authorization as a Bearer token.';

/** The key a request presents: `x-api-key`, else `Authorization: Bearer`. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const authorization = headers.authorization;
  const bearer = typeof authorization === 'string' ? /^Bearer\s+(.+)$/i.exec(authorization)?.[1] : undefined;
  return bearer?.trim() || undefined;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * A key as a log names it: a prefix of its SHA-256 digest, never any of its characters (a short
 * key's first characters would be most of it). An operator finds a key's label with
 * `printf %s "$KEY" | sha256sum | cut -c1-8`.
 */
export function keyLabel(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  return `key-${digest(key).toString('hex').slice(0, 8)}`;
}

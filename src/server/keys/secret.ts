import { createHash, randomBytes } from 'node:crypto';

/** The prefix of every key the store issues, so a leaked one is recognisable (and scrubbed). */
export const KEY_PREFIX = 'sk-sluice-';

/** A new key: 32 random bytes, shown once and never stored. */
export function newSecretKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * What the store keeps of a key: its SHA-256 digest. The keys are 256 random bits, so a fast
 * digest cannot be reversed by guessing, and a lookup by digest is one index probe.
 */
export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A key's id: public, what `sluice keys revoke` and the admin API name it by. */
export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/**
 * Hashing and ids: everything "random" in the simulated model is drawn from hashes of the
 * request, never from Math.random, so the same request always gets the same answer.
 */

/** FNV-1a with a murmur3 finalizer: fast, and well mixed enough to seed a PRNG. */
export function hash32(text: string, seed = 0): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `prefix` + `length` base62 characters determined by `key`. Five characters per 32-bit hash. */
export function simulatedId(prefix: string, key: string, length = 20): string {
  let id = prefix;
  for (let round = 0; id.length < prefix.length + length; round++) {
    let value = hash32(key, round + 1);
    for (let i = 0; i < 5 && id.length < prefix.length + length; i++) {
      id += BASE62[value % 62];
      value = Math.floor(value / 62);
    }
  }
  return id;
}

/** JSON with object keys sorted, so that the same request hashes the same whatever its key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError } from '../../protocol/errors.ts';
import { type ApiKeys, NO_KEY, presentedKey } from '../auth.ts';
import type { KeyRecord, KeyStore } from './key-store.ts';

/** Who a request is: its key (for labels and stream ownership), and the store's record of it when it is a stored key. */
export interface Caller {
  key: string | undefined;
  record?: KeyRecord;
}

/**
 * Checks a request's key: without a store, against the configured keys (none: anyone may
 * call); with one, a key is always needed, the configured keys (`SLUICE_API_KEYS`) first,
 * then the store, read on every request, so a key revoked anywhere is refused at once everywhere.
 */
export async function authenticate(
  apiKeys: ApiKeys,
  store: KeyStore | undefined,
  headers: IncomingHttpHeaders,
): Promise<Caller> {
  if (!store) return { key: apiKeys.check(headers) };
  const key = presentedKey(headers);
  if (key === undefined) throw new AuthenticationError(NO_KEY);
  if (apiKeys.required && apiKeys.matches(key)) return { key };
  const record = await store.bySecret(key);
  if (!record) throw new AuthenticationError('Invalid API key.');
  return { key, record };
}

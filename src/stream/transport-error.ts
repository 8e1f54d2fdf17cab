import { AbortError, ConnectionError, SluiceError } from '../protocol/errors.ts';

/**
 * A failure of the transport under an event source, as its typed error: network failures
 * (fetch's, a socket's) become `ConnectionError`, a DOM `AbortError` becomes Sluice's. Sluice
 * errors and anything else (a listener of the caller's that threw) are returned as they are,
 * since those are already typed or are the caller's to recognise. (The gateway's
 * `errorForCaller` is the other converter: any failure → what an HTTP caller may see.)
 */
export function errorFromTransport(error: unknown): unknown {
  if (error instanceof SluiceError) return error;
  if (error instanceof Error) {
    if (error.name === 'AbortError') return new AbortError(undefined, { cause: error });
    if (isNetworkError(error)) {
      return new ConnectionError(`The connection to the upstream failed: ${describeNetworkError(error)}.`, {
        cause: error,
      });
    }
  }
  return error;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isNetworkError(error: Error): boolean {
  // fetch reports every network failure as `TypeError: fetch failed` (or `terminated` mid-body)
  // with the system error as its cause.
  if (error.name === 'TypeError' && /fetch failed|terminated/i.test(error.message)) return true;
  const code = codeOf(error) ?? codeOf(error.cause);
  return code !== undefined && NETWORK_CODES.has(code);
}

function describeNetworkError(error: Error): string {
  const cause = error.cause as Error | undefined;
  const code = codeOf(cause) ?? codeOf(error);
  const detail = cause?.message ?? error.message;
  return code && !detail.includes(code) ? `${code} ${detail}` : detail;
}

import { errorFromDetail, errorTypeForStatus, type SluiceError } from './errors.ts';

/**
 * How long the server asked us to wait, in milliseconds: `retry-after-ms` first (Anthropic's
 * precise form), then `retry-after` as seconds or as an HTTP date.
 */
export function retryDelayFromHeaders(headers: HeaderReader, now: number = Date.now()): number | undefined {
  const precise = headers.get('retry-after-ms');
  if (precise !== null && precise.trim() !== '') {
    const ms = Number(precise);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The one thing the error mapping needs of a response's headers; fetch's `Headers` is one. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * The typed error for a failed HTTP response. Reads the Anthropic error body, the OpenAI one,
 * or falls back to the status; carries status, request id and the server's retry hint.
 */
export function errorFromHttp(status: number, headers: HeaderReader, bodyText: string): SluiceError {
  const detail = errorDetailOf(bodyText);
  const type = detail?.type && detail.type !== 'error' ? detail.type : errorTypeForStatus(status);
  const message = detail?.message || `The upstream answered HTTP ${status}${bodyPreview(bodyText)}.`;
  return errorFromDetail(
    { type, message },
    {
      status,
      requestId: headers.get('request-id') ?? headers.get('x-request-id') ?? undefined,
      retryAfterMs: retryDelayFromHeaders(headers),
      shouldRetry: shouldRetryHeader(headers),
    },
  );
}

function errorDetailOf(bodyText: string): { type?: string; message?: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return { message: error };
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, message } = error as { type?: unknown; message?: unknown };
  return {
    type: typeof type === 'string' ? type : undefined,
    message: typeof message === 'string' ? message : undefined,
  };
}

function bodyPreview(bodyText: string): string {
  const text = bodyText.trim();
  if (text === '') return '';
  return `: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
}

function shouldRetryHeader(headers: HeaderReader): boolean | undefined {
  const value = headers.get('x-should-retry');
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

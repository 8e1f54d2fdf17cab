import { AbortError, ApiError, errorFromDetail, SluiceError } from '../protocol/errors.ts';
import { isGatewayRefusal } from './keys/errors.ts';
import { DEFAULT_SCRUBBER, type SecretScrubber } from './secrets.ts';

/*
 * What a caller learns when the model call fails. Everything that comes out of a model call
 * is the upstream's doing or the gateway's (never the caller's key: that was checked before),
 * and its text came, at least in part, from outside: an upstream's error message, the start
 * of its 500 page, Node's words for a refused connection. Status and type stay; the text is
 * scrubbed of every configured secret, URL credentials and internal addresses.
 */

/** The Anthropic types of an upstream refusing the gateway's own key. */
const CREDENTIAL_FAILURES: ReadonlySet<string> = new Set(['authentication_error', 'permission_error']);

/**
 * The error a caller may see for a failed model call. An upstream refusing the gateway's
 * credentials (401/403) is the gateway's misconfiguration, a 502, not the caller's 401: the
 * caller's key was fine, and an SDK told 401 would report the wrong key to its user.
 */
export function publicUpstreamError(error: unknown, scrubber: SecretScrubber = DEFAULT_SCRUBBER): unknown {
  if (!(error instanceof SluiceError) || error instanceof AbortError || isGatewayRefusal(error)) return error;
  const message = scrubber.scrub(error.message);
  if (CREDENTIAL_FAILURES.has(error.type) || error.status === 401 || error.status === 403) {
    return new ApiError(
      `The gateway is misconfigured: its upstream refused the gateway's own credentials (HTTP ${error.status}, ${error.type}: ${message}). Your request and key are fine; tell the gateway's operator to fix the provider key.`,
      { status: 502, requestId: error.requestId, partialMessage: error.partialMessage, cause: error },
    );
  }
  if (message === error.message) return error;
  return errorFromDetail(
    { type: error.type, message },
    {
      status: error.status,
      requestId: error.requestId,
      retryAfterMs: error.retryAfterMs,
      shouldRetry: error.shouldRetry,
      partialMessage: error.partialMessage,
      cause: error,
    },
  );
}

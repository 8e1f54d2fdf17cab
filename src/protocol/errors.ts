import { z } from 'zod';
import type { Message } from './message.ts';

/** The `error.type` values of the Anthropic API, with the HTTP status each one travels with. */
export const ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;
/** An Anthropic `error.type` (`invalid_request_error`, `overloaded_error`, …). */
export type ErrorType = keyof typeof ERROR_STATUS;

export function isErrorType(value: unknown): value is ErrorType {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

export const ErrorDetailSchema = z.looseObject({ type: z.string(), message: z.string() });
/** The `error` object of an error body or event: `{ type, message }`. */
export type ErrorDetail = z.infer<typeof ErrorDetailSchema>;

export const ErrorBodySchema = z.looseObject({
  type: z.literal('error'),
  error: ErrorDetailSchema,
  request_id: z.string().nullable().optional(),
});
/** An Anthropic error response body: `{ type: "error", error: { type, message } }`. */
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** What an error carries beside its message: status, request id, retry-after and the partial message. */
export interface SluiceErrorOptions {
  status?: number;
  requestId?: string;
  /** Milliseconds the server asked us to wait (from `retry-after-ms` or `retry-after`). */
  retryAfterMs?: number;
  /** What the model had produced when the stream failed. Never silently dropped. */
  partialMessage?: Message;
  /** The server's own verdict (`x-should-retry`), which overrides the status rules. */
  shouldRetry?: boolean;
  cause?: unknown;
}

/**
 * The root of every error Sluice raises across a layer boundary. `type` is one of the
 * Anthropic error types so that any error can be turned into an API error body, and
 * `status` is the HTTP status it travels with.
 */
export class SluiceError extends Error {
  override name = 'SluiceError';
  readonly type: ErrorType;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly shouldRetry: boolean | undefined;
  partialMessage: Message | undefined;

  constructor(type: ErrorType, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.type = type;
    this.status = options.status ?? ERROR_STATUS[type];
    this.requestId = options.requestId;
    this.retryAfterMs = options.retryAfterMs;
    this.shouldRetry = options.shouldRetry;
    this.partialMessage = options.partialMessage;
  }

  /** The Anthropic error body for this error: what a caller of an HTTP API may see. */
  toBody(): ErrorBody {
    return { type: 'error', error: { type: this.type, message: this.message } };
  }
}

/** 400 `invalid_request_error`: the request is malformed; the message names what to fix. */
export class InvalidRequestError extends SluiceError {
  override name = 'InvalidRequestError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('invalid_request_error', message, options);
  }
}
/** 401 `authentication_error`: a missing or wrong API key. */
export class AuthenticationError extends SluiceError {
  override name = 'AuthenticationError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('authentication_error', message, options);
  }
}
/** 402 `billing_error`: the account cannot pay for the request. */
export class BillingError extends SluiceError {
  override name = 'BillingError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('billing_error', message, options);
  }
}
/** 403 `permission_error`: the key may not use this resource. */
export class PermissionDeniedError extends SluiceError {
  override name = 'PermissionDeniedError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('permission_error', message, options);
  }
}
/** 404 `not_found_error`: an unknown model or resource. */
export class NotFoundError extends SluiceError {
  override name = 'NotFoundError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('not_found_error', message, options);
  }
}
/** 413 `request_too_large`: the request is over the size limit. */
export class RequestTooLargeError extends SluiceError {
  override name = 'RequestTooLargeError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('request_too_large', message, options);
  }
}
/** 429 `rate_limit_error`: too many requests or tokens; `retryAfterMs` says when to try again. */
export class RateLimitError extends SluiceError {
  override name = 'RateLimitError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('rate_limit_error', message, options);
  }
}
/** 500 `api_error`: the server failed; retried. */
export class ApiError extends SluiceError {
  override name = 'ApiError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('api_error', message, options);
  }
}
/** 504 `timeout_error`: the request, or a tool, took too long. */
export class TimeoutError extends SluiceError {
  override name = 'TimeoutError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('timeout_error', message, options);
  }
}
/** 529 `overloaded_error`: the upstream is overloaded; retried, and resumed mid-stream. */
export class OverloadedError extends SluiceError {
  override name = 'OverloadedError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('overloaded_error', message, options);
  }
}

/** The byte stream broke a rule of the event protocol (a delta for a block never started, …). */
export class ProtocolError extends SluiceError {
  override name = 'ProtocolError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('api_error', message, { status: 502, ...options });
  }
}

/** The stream ended before `message_stop`. `partialMessage` holds what did arrive. */
export class IncompleteStreamError extends SluiceError {
  override name = 'IncompleteStreamError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('api_error', message, { status: 502, ...options });
  }
}

/** The connection to the upstream failed (refused, reset, closed mid-body). */
export class ConnectionError extends SluiceError {
  override name = 'ConnectionError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('api_error', message, { status: 502, ...options });
  }
}

/** No event (pings included) arrived within the idle timeout. */
export class IdleTimeoutError extends SluiceError {
  override name = 'IdleTimeoutError';
  readonly idleTimeoutMs: number;
  constructor(idleTimeoutMs: number, options?: SluiceErrorOptions) {
    super(
      'timeout_error',
      `No stream event arrived for ${idleTimeoutMs} ms; the upstream connection was closed. Raise idleTimeoutMs if the model is expected to pause this long.`,
      options,
    );
    this.idleTimeoutMs = idleTimeoutMs;
  }
}

/** The total time allowed for the call ran out. */
export class DeadlineExceededError extends SluiceError {
  override name = 'DeadlineExceededError';
  readonly deadlineMs: number;
  constructor(deadlineMs: number, options?: SluiceErrorOptions) {
    super(
      'timeout_error',
      `The call did not finish within its ${deadlineMs} ms deadline; raise the deadline or shorten max_tokens.`,
      options,
    );
    this.deadlineMs = deadlineMs;
  }
}

/** A resumed stream could not be stitched to what the consumer already saw. */
export class StreamInterruptedError extends SluiceError {
  override name = 'StreamInterruptedError';
  constructor(message: string, options?: SluiceErrorOptions) {
    super('api_error', message, { status: 502, ...options });
  }
}

/** The caller aborted the call (AbortSignal or `stream.abort()`). */
export class AbortError extends SluiceError {
  override name = 'AbortError';
  constructor(message = 'The request was aborted.', options?: SluiceErrorOptions) {
    super('api_error', message, { status: 499, ...options });
  }
}

const CLASS_BY_TYPE: Record<ErrorType, new (message: string, options?: SluiceErrorOptions) => SluiceError> = {
  invalid_request_error: InvalidRequestError,
  authentication_error: AuthenticationError,
  billing_error: BillingError,
  permission_error: PermissionDeniedError,
  not_found_error: NotFoundError,
  request_too_large: RequestTooLargeError,
  rate_limit_error: RateLimitError,
  api_error: ApiError,
  timeout_error: TimeoutError,
  overloaded_error: OverloadedError,
};

/** The typed error for an Anthropic error detail, whether it came in an HTTP body or an `error` event. */
export function errorFromDetail(
  detail: { type: string; message: string },
  options?: SluiceErrorOptions,
): SluiceError {
  const ErrorClass = isErrorType(detail.type) ? CLASS_BY_TYPE[detail.type] : ApiError;
  return new ErrorClass(detail.message, options);
}

/** The error type an HTTP status stands for, when the body does not say. */
export function errorTypeForStatus(status: number): ErrorType {
  for (const [type, code] of Object.entries(ERROR_STATUS)) if (code === status) return type as ErrorType;
  if (status === 408) return 'timeout_error';
  if (status === 422) return 'invalid_request_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** The typed error for an `error` stream event; a malformed one is still an error, never ignored. */
export function errorFromEvent(event: object, options?: SluiceErrorOptions): SluiceError {
  const detail = (event as { error?: { type?: unknown; message?: unknown } }).error;
  if (typeof detail?.type === 'string') {
    const message =
      typeof detail.message === 'string' ? detail.message : `The upstream reported ${detail.type}.`;
    return errorFromDetail({ type: detail.type, message }, options);
  }
  return new ApiError('The upstream sent an error event without details.', options);
}

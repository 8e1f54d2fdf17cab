import { z } from 'zod/v4';
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

/** A subclass of `SluiceError` for one error type: `new InvalidRequestError(message, options)`. */
export type SluiceErrorClass = new (message: string, options?: SluiceErrorOptions) => SluiceError;
/** The same, for a class whose message has a default. */
export type SluiceErrorClassWithDefault = new (message?: string, options?: SluiceErrorOptions) => SluiceError;

/**
 * The base of the one-line error classes below: their `name` (set explicitly, so a minifier
 * renaming the class does not change it), their Anthropic error `type`, and the status when
 * it is not the type's own (502 for an upstream that misbehaved, 499 for a caller who left).
 */
function errorClass(
  name: string,
  type: ErrorType,
  defaults: { status?: number; message: string },
): SluiceErrorClassWithDefault;
function errorClass(name: string, type: ErrorType, defaults?: { status?: number }): SluiceErrorClass;
function errorClass(
  name: string,
  type: ErrorType,
  defaults: { status?: number; message?: string } = {},
): SluiceErrorClassWithDefault {
  return class extends SluiceError {
    constructor(message = defaults.message ?? '', options?: SluiceErrorOptions) {
      super(type, message, { status: defaults.status, ...options });
      this.name = name;
    }
  };
}

// The upstream misbehaved: an api_error, but travelling as 502 rather than the type's 500.
const BAD_GATEWAY = { status: 502 };
// The caller stopped the call: 499, nginx's "client closed request", which no API sends.
const CALLER_ABORTED = { status: 499, message: 'The request was aborted.' };

/** 400 `invalid_request_error`: the request is malformed; the message names what to fix. */
export class InvalidRequestError extends errorClass('InvalidRequestError', 'invalid_request_error') {}
/** 401 `authentication_error`: a missing or wrong API key. */
export class AuthenticationError extends errorClass('AuthenticationError', 'authentication_error') {}
/** 402 `billing_error`: the account cannot pay for the request. */
export class BillingError extends errorClass('BillingError', 'billing_error') {}
/** 403 `permission_error`: the key may not use this resource. */
export class PermissionDeniedError extends errorClass('PermissionDeniedError', 'permission_error') {}
/** 404 `not_found_error`: an unknown model or resource. */
export class NotFoundError extends errorClass('NotFoundError', 'not_found_error') {}
/** 413 `request_too_large`: the request is over the size limit. */
export class RequestTooLargeError extends errorClass('RequestTooLargeError', 'request_too_large') {}
/** 429 `rate_limit_error`: too many requests or tokens; `retryAfterMs` says when to try again. */
export class RateLimitError extends errorClass('RateLimitError', 'rate_limit_error') {}
/** 500 `api_error`: the server failed; retried. */
export class ApiError extends errorClass('ApiError', 'api_error') {}
/** 504 `timeout_error`: the request, or a tool, took too long. */
export class TimeoutError extends errorClass('TimeoutError', 'timeout_error') {}
/** 529 `overloaded_error`: the upstream is overloaded; retried, and resumed mid-stream. */
export class OverloadedError extends errorClass('OverloadedError', 'overloaded_error') {}
/** The byte stream broke a rule of the event protocol (a delta for a block never started, …). */
export class ProtocolError extends errorClass('ProtocolError', 'api_error', BAD_GATEWAY) {}
/** The stream ended before `message_stop`. `partialMessage` holds what did arrive. */
export class IncompleteStreamError extends errorClass('IncompleteStreamError', 'api_error', BAD_GATEWAY) {}
/** The connection to the upstream failed (refused, reset, closed mid-body). */
export class ConnectionError extends errorClass('ConnectionError', 'api_error', BAD_GATEWAY) {}
/** A resumed stream could not be stitched to what the consumer already saw. */
export class StreamInterruptedError extends errorClass('StreamInterruptedError', 'api_error', BAD_GATEWAY) {}
/** The caller aborted the call (AbortSignal or `stream.abort()`). */
export class AbortError extends errorClass('AbortError', 'api_error', CALLER_ABORTED) {}

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

const CLASS_BY_TYPE: Record<ErrorType, SluiceErrorClass> = {
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

import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ApiError,
  AuthenticationError,
  BillingError,
  ConnectionError,
  DeadlineExceededError,
  ERROR_STATUS,
  errorFromDetail,
  IdleTimeoutError,
  IncompleteStreamError,
  InvalidRequestError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  ProtocolError,
  RateLimitError,
  RequestTooLargeError,
  SluiceError,
  type SluiceErrorClass,
  StreamInterruptedError,
  TimeoutError,
} from '../../src/protocol/errors.ts';
import type { Message } from '../../src/protocol/message.ts';

// Each class: its name, Anthropic type and status, as callers and the gateway rely on them.
const CLASSES: Array<[SluiceErrorClass, string, string, number]> = [
  [InvalidRequestError, 'InvalidRequestError', 'invalid_request_error', 400],
  [AuthenticationError, 'AuthenticationError', 'authentication_error', 401],
  [BillingError, 'BillingError', 'billing_error', 402],
  [PermissionDeniedError, 'PermissionDeniedError', 'permission_error', 403],
  [NotFoundError, 'NotFoundError', 'not_found_error', 404],
  [RequestTooLargeError, 'RequestTooLargeError', 'request_too_large', 413],
  [RateLimitError, 'RateLimitError', 'rate_limit_error', 429],
  [ApiError, 'ApiError', 'api_error', 500],
  [TimeoutError, 'TimeoutError', 'timeout_error', 504],
  [OverloadedError, 'OverloadedError', 'overloaded_error', 529],
  [ProtocolError, 'ProtocolError', 'api_error', 502],
  [IncompleteStreamError, 'IncompleteStreamError', 'api_error', 502],
  [ConnectionError, 'ConnectionError', 'api_error', 502],
  [StreamInterruptedError, 'StreamInterruptedError', 'api_error', 502],
  [AbortError, 'AbortError', 'api_error', 499],
];

describe('the typed errors', () => {
  it.each(CLASSES)('%o: name %s, type %s, status %d', (ErrorClass, name, type, status) => {
    const partialMessage = { id: 'msg_1' } as Message;
    const cause = new Error('underneath');
    const error = new ErrorClass('What to do.', {
      requestId: 'req_1',
      retryAfterMs: 5,
      partialMessage,
      cause,
    });
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(ErrorClass.name).toBe(name);
    expect(error.type).toBe(type);
    expect(error.status).toBe(status);
    expect(error.message).toBe('What to do.');
    expect([error.requestId, error.retryAfterMs, error.partialMessage, error.cause]).toEqual([
      'req_1',
      5,
      partialMessage,
      cause,
    ]);
    expect(String(error)).toBe(`${name}: What to do.`);
    expect(error.toBody()).toEqual({ type: 'error', error: { type, message: 'What to do.' } });
    // A status given by the caller wins over the class's own.
    expect(new ErrorClass('x', { status: 418 }).status).toBe(418);
    // Each class is its own: no other class's instanceof holds.
    for (const [Other] of CLASSES) if (Other !== ErrorClass) expect(error).not.toBeInstanceOf(Other);
  });

  it('AbortError has a default message; the others take theirs', () => {
    expect(new AbortError().message).toBe('The request was aborted.');
    expect(new AbortError(undefined, { cause: 'x' }).status).toBe(499);
  });

  it('the timeouts carry their figure and say what to raise', () => {
    const idle = new IdleTimeoutError(60_000);
    expect([idle.name, idle.type, idle.status, idle.idleTimeoutMs]).toEqual([
      'IdleTimeoutError',
      'timeout_error',
      504,
      60_000,
    ]);
    expect(idle.message).toMatch(/Raise idleTimeoutMs/);
    const deadline = new DeadlineExceededError(1000);
    expect([deadline.name, deadline.status, deadline.deadlineMs]).toEqual([
      'DeadlineExceededError',
      504,
      1000,
    ]);
  });

  it('errorFromDetail picks the class of each Anthropic type, ApiError for an unknown one', () => {
    for (const type of Object.keys(ERROR_STATUS)) {
      const error = errorFromDetail({ type, message: 'm' });
      expect(error.type).toBe(type);
      expect(error.status).toBe(ERROR_STATUS[type as keyof typeof ERROR_STATUS]);
      expect(error.constructor).not.toBe(SluiceError);
    }
    expect(errorFromDetail({ type: 'new_kind_error', message: 'm' })).toBeInstanceOf(ApiError);
  });
});

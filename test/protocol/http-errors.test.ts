import { describe, expect, it } from 'vitest';
import { ApiError, OverloadedError, RateLimitError } from '../../src/protocol/errors.ts';
import { errorFromHttp, retryDelayFromHeaders } from '../../src/protocol/http-errors.ts';

const headers = (values: Record<string, string> = {}) => new Headers(values);

describe('retryDelayFromHeaders', () => {
  const now = Date.parse('2026-12-04T12:00:00Z');

  it('prefers retry-after-ms, then retry-after in seconds, then as an HTTP date', () => {
    expect(retryDelayFromHeaders(headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), now)).toBe(1500);
    expect(retryDelayFromHeaders(headers({ 'retry-after': '2.5' }), now)).toBe(2500);
    expect(retryDelayFromHeaders(headers({ 'retry-after': 'Fri, 04 Dec 2026 12:00:30 GMT' }), now)).toBe(
      30_000,
    );
  });

  it('reads a date in the past as no wait, and nonsense as no hint', () => {
    expect(retryDelayFromHeaders(headers({ 'retry-after': 'Fri, 04 Dec 2026 11:00:00 GMT' }), now)).toBe(0);
    expect(retryDelayFromHeaders(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryDelayFromHeaders(headers({ 'retry-after-ms': '-5' }), now)).toBeUndefined();
    expect(retryDelayFromHeaders(headers(), now)).toBeUndefined();
  });
});

describe('errorFromHttp', () => {
  it('reads the Anthropic error body, with the request id and the retry hints', () => {
    const error = errorFromHttp(
      429,
      headers({ 'request-id': 'req_1', 'retry-after': '3', 'x-should-retry': 'true' }),
      JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down.' } }),
    );
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({
      type: 'rate_limit_error',
      message: 'Slow down.',
      status: 429,
      requestId: 'req_1',
      retryAfterMs: 3000,
      shouldRetry: true,
    });
  });

  it('reads the OpenAI body and a bare error string', () => {
    expect(
      errorFromHttp(529, headers({ 'x-request-id': 'abc' }), JSON.stringify({ error: { message: 'Busy.' } })),
    ).toMatchObject({ type: 'overloaded_error', message: 'Busy.', requestId: 'abc' });
    expect(errorFromHttp(500, headers(), JSON.stringify({ error: 'It broke.' }))).toMatchObject({
      type: 'api_error',
      message: 'It broke.',
    });
  });

  it('falls back to the status, with a preview of a body that is not JSON (a proxy’s HTML page)', () => {
    const page = `<html><body>${'Bad gateway. '.repeat(40)}</body></html>`;
    const error = errorFromHttp(502, headers(), page);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message.startsWith('The upstream answered HTTP 502: <html><body>Bad gateway.')).toBe(true);
    expect(error.message.endsWith('….')).toBe(true);
    expect(error.message.length).toBeLessThan(260);
    expect(errorFromHttp(529, headers(), '  ')).toBeInstanceOf(OverloadedError);
    expect(errorFromHttp(529, headers(), '').message).toBe('The upstream answered HTTP 529.');
  });
});

import { describe, expect, it } from 'vitest';
import {
  AbortError,
  AuthenticationError,
  OverloadedError,
  PermissionDeniedError,
} from '../../src/protocol/errors.ts';
import { type GatewayConfig, loadConfig } from '../../src/server/config.ts';
import { configuredSecrets, SecretScrubber, scrubberFor } from '../../src/server/secrets.ts';
import { publicUpstreamError } from '../../src/server/upstream-errors.ts';

describe('SecretScrubber', () => {
  const scrubber = new SecretScrubber(['s3cret-value', 'a"b\\c-key'], ['ollama.internal:11434']);

  it.each([
    ['a configured value anywhere', 'token s3cret-value!', 'token [redacted]!'],
    ['its JSON-escaped form', '{"k":"a\\"b\\\\c-key"}', '{"k":"[redacted]"}'],
    ['its URL-encoded form', 'GET /?k=s3cret-value%20', 'GET /?k=[redacted]%20'],
    ['credentials in any URL', 'http://bob:hunter2@host/x', 'http://[redacted]@host/x'],
    ['a bearer token', 'Authorization: Bearer abc.def', 'Authorization: Bearer [redacted]'],
    ['Basic credentials', 'authorization=Basic Ym9iOmh1bnRlcjI=', 'authorization=Basic [redacted]'],
    [
      'an sk- key',
      'Incorrect API key provided: sk-proj-abcdefghij',
      'Incorrect API key provided: [redacted]',
    ],
  ])('redacts %s, in the log and for callers', (_, text, expected) => {
    expect(scrubber.redact(text)).toBe(expected);
    expect(scrubber.scrub(text)).toBe(expected);
  });

  it.each([
    ['connect ECONNREFUSED 127.0.0.1:8080', 'connect ECONNREFUSED [address]'],
    ['getaddrinfo ENOTFOUND db.internal', 'getaddrinfo ENOTFOUND [address]'],
    ['connect ECONNREFUSED [::1]:8080', 'connect ECONNREFUSED [address]'],
    ['backend 10.0.0.7:8443 and [fd00::1]:9000 failed', 'backend [address] and [address] failed'],
    ['fetch http://localhost:3000/v1 failed', 'fetch http://[address]/v1 failed'],
    ['upstream ollama.internal:11434 timed out', 'upstream [address] timed out'],
  ])('masks internal addresses for callers only: %s', (text, expected) => {
    expect(scrubber.scrub(text)).toBe(expected);
    expect(scrubber.redact(text)).toBe(text);
  });

  it('leaves short values and ordinary words alone', () => {
    const short = new SecretScrubber(['abc']);
    expect(short.scrub('abc is not masked; Basic auth is a phrase')).toBe(
      'abc is not masked; Basic auth is a phrase',
    );
  });
});

describe('configuredSecrets', () => {
  it('collects every secret the configuration reaches, from the environment it names', () => {
    const base = loadConfig({ env: {} }).config;
    const config: GatewayConfig = {
      ...base,
      server: { ...base.server, apiKeys: ['gateway-key-1'], metricsKey: 'metrics-key-1' },
      providers: {
        local: { type: 'openai', baseURL: 'http://user:pa%40ss@10.0.0.9:8000/v1', apiKeyEnv: 'LOCAL_KEY' },
        proxy: {
          type: 'anthropic',
          baseURL: 'https://tok3n-only@proxy.example',
          headers: { 'x-proxy-token': 'hdr-secret' },
        },
      },
    };
    const env = { LOCAL_KEY: 'local-provider-key', ANTHROPIC_API_KEY: 'anthropic-key', OPENAI_API_KEY: '' };
    const secrets = configuredSecrets(config, env);
    for (const expected of [
      'gateway-key-1',
      'metrics-key-1',
      'local-provider-key',
      'anthropic-key',
      'pa%40ss',
      'pa@ss',
      'tok3n-only',
      'hdr-secret',
      Buffer.from('user:pa@ss').toString('base64'),
    ]) {
      expect(secrets).toContain(expected);
    }
    expect(secrets).not.toContain('user');
    expect(scrubberFor(config, env).scrub('refused by 10.0.0.9:8000 for pa@ss')).toBe(
      'refused by [address] for [redacted]',
    );
  });
});

describe('publicUpstreamError', () => {
  const scrubber = new SecretScrubber(['provider-key-9']);

  it.each([
    new AuthenticationError('invalid x-api-key: provider-key-9', { status: 401 }),
    new PermissionDeniedError('key provider-key-9 may not use this model', { status: 403 }),
  ])('turns an upstream refusing the gateway key into a 502 saying so', (error) => {
    const mapped = publicUpstreamError(error, scrubber) as OverloadedError;
    expect(mapped.status).toBe(502);
    expect(mapped.type).toBe('api_error');
    expect(mapped.message).toMatch(/^The gateway is misconfigured/);
    expect(mapped.message).not.toContain('provider-key-9');
  });

  it('keeps status, type and retry hint, scrubbing the text; an error with nothing to scrub is kept as is', () => {
    const error = new OverloadedError('busy: provider-key-9', { retryAfterMs: 2000 });
    const mapped = publicUpstreamError(error, scrubber) as OverloadedError;
    expect(mapped).toBeInstanceOf(OverloadedError);
    expect({ status: mapped.status, type: mapped.type, retry: mapped.retryAfterMs }).toEqual({
      status: 529,
      type: 'overloaded_error',
      retry: 2000,
    });
    expect(mapped.message).toBe('busy: [redacted]');
    const clean = new OverloadedError('busy');
    expect(publicUpstreamError(clean, scrubber)).toBe(clean);
    const aborted = new AbortError();
    expect(publicUpstreamError(aborted, scrubber)).toBe(aborted);
  });
});

import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  AbortError,
  AuthenticationError,
  NotFoundError,
  OverloadedError,
  RateLimitError,
  type SluiceError,
} from '../../src/protocol/errors.ts';
import { createLogger, maskKeys } from '../../src/server/logger.ts';
import { MetricLabels } from '../../src/server/metric-labels.ts';
import { createTelemetry } from '../../src/server/observability.ts';
import { SecretScrubber } from '../../src/server/secrets.ts';

const ROUTE = '/v1/messages';
const LEVEL = { info: 30, warn: 40, error: 50 };

/** A pino destination that keeps every line, raw (to look for leaks) and parsed. */
function collector() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, raw, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** A clock the test moves by hand, in milliseconds. */
function manualClock(start = 1000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

/** The models these tests configure: labelled by name whether or not they ever answer. */
const CONFIGURED = ['sim:default', 'upstream:default'];

function setup(labels = new MetricLabels({ knownModels: CONFIGURED })) {
  const logs = collector();
  const clock = manualClock();
  const logger = createLogger({ destination: logs.stream });
  const telemetry = createTelemetry({ logger, now: clock.now, labels });
  return { logs, clock, telemetry };
}

/** The value of the one sample of `name` whose labels include `labels`, from the Prometheus text. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const values = samples(text, name).filter((s) =>
    Object.entries(labels).every(([label, value]) => s.labels[label] === value),
  );
  if (values.length > 1)
    throw new Error(`${values.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return values[0]?.value;
}

function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const found = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, label, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (label !== undefined && value !== undefined) labels[label] = value;
    }
    found.push({ labels, value: Number(match[3]) });
  }
  return found;
}

describe('createTelemetry', () => {
  it('logs one line and records the metrics of a streaming request', async () => {
    const { logs, clock, telemetry } = setup();
    const request = telemetry.start(ROUTE, 'key-1a2b3c4d', true);
    expect(sample(await telemetry.metrics(), 'sluice_active_streams', { route: ROUTE })).toBe(1);

    request.model('sim:default');
    request.relay?.('pass-through');
    request.relay?.('full'); // the relay that opened the response is the one counted
    clock.advance(250);
    request.firstToken();
    request.retry({ attempt: 1, reason: 'overloaded_error', delayMs: 10, mode: 'retry' });
    clock.advance(500);
    request.firstToken(); // only the first one counts
    request.retry({ attempt: 2, reason: 'connection', delayMs: 10, mode: 'resume' });
    request.usage({ input_tokens: 12, output_tokens: 34 });
    clock.advance(1250);
    request.finish(200);

    const [line, ...more] = logs.lines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: LEVEL.info,
      msg: 'request',
      route: ROUTE,
      model: 'sim:default',
      status: 200,
      streaming: true,
      ttftMs: 250,
      durationMs: 2000,
      inputTokens: 12,
      outputTokens: 34,
      retries: 2,
      resumes: 1,
      relay: 'pass-through',
      key: 'key-1a2b3c4d',
    });
    expect(line).not.toHaveProperty('error');
    expect(line?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const text = await telemetry.metrics();
    const model = 'sim:default';
    expect(sample(text, 'sluice_requests_total', { route: ROUTE, model, status: '200' })).toBe(1);
    expect(sample(text, 'sluice_ttft_seconds_bucket', { route: ROUTE, model, le: '0.1' })).toBe(0);
    expect(sample(text, 'sluice_ttft_seconds_bucket', { route: ROUTE, model, le: '0.25' })).toBe(1);
    expect(sample(text, 'sluice_ttft_seconds_sum', { route: ROUTE, model })).toBe(0.25);
    expect(sample(text, 'sluice_ttft_seconds_count', { route: ROUTE, model })).toBe(1);
    expect(sample(text, 'sluice_request_duration_seconds_bucket', { route: ROUTE, model, le: '1' })).toBe(0);
    expect(sample(text, 'sluice_request_duration_seconds_bucket', { route: ROUTE, model, le: '2.5' })).toBe(
      1,
    );
    expect(sample(text, 'sluice_request_duration_seconds_sum', { route: ROUTE, model })).toBe(2);
    expect(sample(text, 'sluice_tokens_total', { model, direction: 'input' })).toBe(12);
    expect(sample(text, 'sluice_tokens_total', { model, direction: 'output' })).toBe(34);
    expect(sample(text, 'sluice_retries_total', { model, reason: 'overloaded_error', mode: 'retry' })).toBe(
      1,
    );
    expect(sample(text, 'sluice_retries_total', { model, reason: 'connection', mode: 'resume' })).toBe(1);
    expect(sample(text, 'sluice_active_streams', { route: ROUTE })).toBe(0);
    expect(sample(text, 'sluice_relayed_streams_total', { route: ROUTE, relay: 'pass-through' })).toBe(1);
    expect(samples(text, 'sluice_relayed_streams_total')).toHaveLength(1);
    expect(samples(text, 'sluice_upstream_errors_total')).toEqual([]);
    // Default process metrics, for CPU and memory.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(text).not.toContain('1a2b3c4d');
  });

  it('ignores a second finish and counts the tokens of a late usage without logging again', async () => {
    const { logs, telemetry } = setup();
    const request = telemetry.start(ROUTE, undefined, true);
    request.model('sim:default');
    request.usage({ input_tokens: 5, output_tokens: 7 });
    request.finish(200);
    request.finish(500);
    request.usage({ input_tokens: 5, output_tokens: 9 }); // cumulative: 2 more output tokens

    expect(logs.lines()).toHaveLength(1);
    expect(logs.lines()[0]).toMatchObject({ outputTokens: 7 });
    expect(logs.lines()[0]).not.toHaveProperty('ttftMs');
    const text = await telemetry.metrics();
    expect(samples(text, 'sluice_requests_total')).toEqual([
      { labels: { route: ROUTE, model: 'sim:default', status: '200' }, value: 1 },
    ]);
    expect(sample(text, 'sluice_active_streams', { route: ROUTE })).toBe(0);
    expect(sample(text, 'sluice_tokens_total', { direction: 'input' })).toBe(5);
    expect(sample(text, 'sluice_tokens_total', { direction: 'output' })).toBe(9);
  });

  it('logs an upstream failure at error level, with its type and message and no stack', async () => {
    const { logs, telemetry } = setup();
    const request = telemetry.start(ROUTE, undefined, false);
    request.model('upstream:default');
    request.finish(529, new OverloadedError('The upstream is overloaded.'));

    expect(logs.raw).toHaveLength(1);
    expect(logs.raw[0]).not.toMatch(/stack|at .*\.ts:\d+/);
    expect(logs.lines()[0]).toMatchObject({
      level: LEVEL.error,
      status: 529,
      streaming: false,
      error: { type: 'overloaded_error', message: 'The upstream is overloaded.' },
    });
    const text = await telemetry.metrics();
    expect(
      sample(text, 'sluice_upstream_errors_total', { model: 'upstream:default', type: 'overloaded_error' }),
    ).toBe(1);
    expect(sample(text, 'sluice_requests_total', { status: '529' })).toBe(1);
    // A non-streaming request never counts as an active stream.
    expect(samples(text, 'sluice_active_streams')).toEqual([]);
  });

  it.each<[string, number, SluiceError, number, boolean]>([
    ['a bad route', 404, new NotFoundError('No route GET /v2.'), LEVEL.warn, false],
    ['a client that left', 499, new AbortError(), LEVEL.warn, false],
    ['a rate limit', 429, new RateLimitError('Slow down.'), LEVEL.warn, true],
  ])(
    'logs %s at its level and counts it as upstream trouble only when it is',
    async (_, status, error, level, upstream) => {
      const { logs, telemetry } = setup();
      telemetry.start(ROUTE, undefined, false).finish(status, error);

      expect(logs.lines()[0]).toMatchObject({ level, status, model: 'unknown', error: { type: error.type } });
      const counted = sample(await telemetry.metrics(), 'sluice_upstream_errors_total', { type: error.type });
      expect(counted).toBe(upstream ? 1 : undefined);
    },
  );

  it('gives each instance its own metrics, and lets two share a registry', async () => {
    const first = createTelemetry({ logger: false });
    const second = createTelemetry({ logger: false });
    first.start(ROUTE, undefined, false).finish(200);

    expect(first.registry).not.toBe(second.registry);
    expect(sample(await first.metrics(), 'sluice_requests_total')).toBe(1);
    expect(samples(await second.metrics(), 'sluice_requests_total')).toEqual([]);
    expect(first.contentType).toMatch(/^text\/plain/);

    const registry = new Registry();
    const one = createTelemetry({ logger: false, registry });
    const two = createTelemetry({ logger: false, registry });
    one.start(ROUTE, undefined, false).finish(200);
    two.start(ROUTE, undefined, false).finish(200);
    expect(sample(await registry.metrics(), 'sluice_requests_total')).toBe(2);
  });
});

describe('metric labels', () => {
  /** Every value the `model` label takes in the text. */
  function modelLabels(text: string): Set<string> {
    return new Set([...text.matchAll(/model="((?:[^"\\]|\\.)*)"/g)].map((match) => match[1] ?? ''));
  }

  it('names a configured model even when it fails, and any other failing model `other`', async () => {
    const { telemetry, logs } = setup();
    for (const model of ['upstream:default', 'anthropic:made-up-1', 'anthropic:made-up-2']) {
      const request = telemetry.start(ROUTE, undefined, false);
      request.model(model);
      request.finish(401, new AuthenticationError('Invalid API key.'));
    }
    const text = await telemetry.metrics();
    expect(modelLabels(text)).toEqual(new Set(['upstream:default', 'other']));
    expect(sample(text, 'sluice_requests_total', { model: 'other', status: '401' })).toBe(2);
    // The log line keeps the name the caller sent: it is written once, not held.
    expect(logs.lines().map((line) => line.model)).toContain('anthropic:made-up-2');
  });

  it('names models that answered, up to the cap, then `other`', async () => {
    const { telemetry } = setup(new MetricLabels({ knownModels: [], seenModelCap: 3 }));
    for (let i = 0; i < 10; i++) {
      const request = telemetry.start(ROUTE, undefined, true);
      request.model(`sim:name-${i}`);
      request.firstToken();
      request.usage({ input_tokens: 1, output_tokens: 2 });
      request.finish(200);
    }
    const text = await telemetry.metrics();
    expect(modelLabels(text)).toEqual(new Set(['sim:name-0', 'sim:name-1', 'sim:name-2', 'other']));
    expect(sample(text, 'sluice_requests_total', { model: 'other' })).toBe(7);
    expect(sample(text, 'sluice_tokens_total', { model: 'other', direction: 'output' })).toBe(14);
  });

  it('keeps NUL, control characters and long names out of the exposition text', async () => {
    const { telemetry } = setup(new MetricLabels({ knownModels: [] }));
    const request = telemetry.start(ROUTE, undefined, false);
    request.model(`sim:a\u0000b\nc"d\\${'x'.repeat(1000)}`);
    request.finish(200);
    const text = await telemetry.metrics();
    expect(text).not.toContain('\u0000');
    const [label] = [...modelLabels(text)];
    expect(label).toMatch(/^sim:a\?b\?c\\"d\\\\x+…$/);
    expect(label!.length).toBeLessThan(140);
  });

  it('bounds error types and retry reasons to the known ones', async () => {
    const { telemetry } = setup();
    const request = telemetry.start(ROUTE, undefined, false);
    request.model('upstream:default');
    request.retry({ attempt: 1, reason: 'made_up_reason_from_upstream', delayMs: 0, mode: 'retry' });
    request.retry({ attempt: 2, reason: 'connection', delayMs: 0, mode: 'retry' });
    const odd = new OverloadedError('busy');
    Object.defineProperty(odd, 'type', { value: 'chosen_by_upstream' });
    request.finish(529, odd);
    const text = await telemetry.metrics();
    expect(samples(text, 'sluice_retries_total').map((s) => s.labels.reason)).toEqual([
      'other',
      'connection',
    ]);
    expect(samples(text, 'sluice_upstream_errors_total').map((s) => s.labels.type)).toEqual(['other']);
  });
});

describe('createLogger', () => {
  it('redacts keys and authorization headers', () => {
    const logs = collector();
    const logger = createLogger({ destination: logs.stream });
    logger.info(
      {
        req: {
          headers: { authorization: 'Bearer sk-secret-1', 'x-api-key': 'sk-secret-2', accept: 'text/plain' },
        },
        headers: { authorization: 'Bearer sk-secret-3', 'x-api-key': 'sk-secret-4' },
        provider: { apiKey: 'sk-secret-5', api_key: 'sk-secret-6', baseURL: 'http://localhost' },
      },
      'incoming',
    );

    expect(logs.raw.join('\n')).not.toContain('sk-secret');
    expect(logs.lines()[0]).toMatchObject({
      req: { headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', accept: 'text/plain' } },
      provider: { apiKey: '[redacted]', baseURL: 'http://localhost' },
    });
  });

  it("masks keys by where they sit, whatever their shape, in copies of the caller's objects", () => {
    const logs = collector();
    const logger = createLogger({ destination: logs.stream });
    // Not shaped like keys, so only where they sit gives them away (the scrubber would not).
    const headers = { authorization: 'Basic hunter2a', 'proxy-authorization': 'Basic hunter2b' };
    const provider = { apiKey: 'hunter2c', baseURL: 'http://localhost' };
    const req = { headers: { 'x-api-key': 'hunter2d', accept: 'text/plain' } };
    logger.info({ headers, provider, req, authorization: 'hunter2e', plain: { note: 'kept' } }, 'config');

    expect(logs.raw.join('\n')).not.toContain('hunter2');
    expect(logs.lines()[0]).toMatchObject({
      plain: { note: 'kept' },
      authorization: '[redacted]',
      req: { headers: { 'x-api-key': '[redacted]', accept: 'text/plain' } },
    });
    logger
      .child({ upstream: { api_key: 'hunter2f' } })
      .child({ apiKey: 'hunter2g' })
      .info('from a child');
    expect(logs.raw.join('\n')).not.toMatch(/hunter2[fg]/);
    expect(logs.lines()[1]).toMatchObject({
      upstream: { api_key: '[redacted]' },
      apiKey: '[redacted]',
      msg: 'from a child',
    });
    expect(headers.authorization).toBe('Basic hunter2a');
    expect(provider.apiKey).toBe('hunter2c');
    expect(req.headers['x-api-key']).toBe('hunter2d');
    // A line with no key in it (every request's line) is the caller's object itself: nothing copied.
    const line = { route: '/v1/messages', status: 200, error: { type: 'api_error', message: 'x' } };
    expect(maskKeys(line)).toBe(line);
  });

  it('logs errors as type and message, without the stack or a key echoed by the upstream', () => {
    const logs = collector();
    const logger = createLogger({ destination: logs.stream });
    const echoed =
      'Incorrect API key provided: sk-proj-abcdefghijklmnop. Sent as Bearer sk-proj-abcdefghijklmnop';
    logger.warn({ err: new AuthenticationError(echoed) }, 'upstream refused');
    logger.error(new TypeError('boom'));

    expect(logs.raw.join('\n')).not.toMatch(/stack|abcdefghijklmnop/);
    expect(logs.lines()[0]).toMatchObject({
      err: {
        type: 'authentication_error',
        message: expect.stringContaining('Incorrect API key provided: [redacted]'),
      },
    });
    expect(logs.lines()[1]).toMatchObject({ err: { type: 'TypeError', message: 'boom' } });
  });

  it('masks the configured secret values wherever they appear, whatever their shape', () => {
    const logs = collector();
    const odd = 'pa"ss\\word-1'; // a quote and a backslash: JSON-escaped in the line
    const scrubber = new SecretScrubber(['plainvalue42', odd, 'with space/é']);
    const logger = createLogger({ destination: logs.stream, scrubber });
    logger.info(
      { note: 'upstream said plainvalue42', url: `http://u:${encodeURIComponent('with space/é')}@h/` },
      'one',
    );
    logger.warn({ field: odd, nested: { deep: [`x${odd}y`] } }, `message with ${odd}`);

    const text = logs.raw.join('\n');
    expect(text).not.toContain('plainvalue42');
    expect(text).not.toContain('pa\\"ss');
    expect(text).not.toContain('with%20space');
    expect(logs.lines()).toHaveLength(2);
    expect(logs.lines()[1]).toMatchObject({ field: '[redacted]', msg: 'message with [redacted]' });
  });
});

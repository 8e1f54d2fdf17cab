import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/server/config.ts';
import { startGateway } from '../../../src/server/start.ts';
import { useSimulator } from '../../helpers/simulator.ts';
import { OtlpReceiver, SPAN_KIND_CLIENT, SPAN_KIND_SERVER } from './otlp-receiver.ts';

const sim = useSimulator();
let receiver: OtlpReceiver;
let scratch: string;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  scratch = mkdtempSync(join(tmpdir(), 'sluice-otel-'));
});
afterAll(async () => {
  await receiver.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A gateway with the in-process simulator and `flaky`, `sluice simulate` whose first answer breaks off mid-stream. */
async function gateway(env: Record<string, string>) {
  const path = join(scratch, `config-${Math.random()}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      server: { logLevel: 'silent' },
      providers: {
        sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 0 } },
        flaky: {
          type: 'anthropic',
          baseURL: sim.url,
          apiKeyEnv: 'SIMULATOR_KEY',
          headers: {
            'x-sluice-fault': JSON.stringify([{ dropAfterBytes: 900, label: path }, { label: path }]),
          },
        },
      },
      resilience: { initialDelayMs: 1, maxDelayMs: 2 },
    }),
  );
  const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
  return startGateway(config, { env: { SIMULATOR_KEY: 'sk-simulator-takes-any', ...env } });
}

const ask = (url: string, body: object) =>
  fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      max_tokens: 40,
      messages: [{ role: 'user', content: 'Tell me about the sea.' }],
      ...body,
    }),
  }).then((response) => response.text());

describe('OpenTelemetry', () => {
  it('sends GenAI spans and metrics to the OTLP endpoint: a span per call, a child per attempt, a resume as an event', async () => {
    const running = await gateway({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'sluice-test',
    });
    expect(await ask(running.url, { model: 'flaky:default', stream: true, temperature: 0.5 })).toContain(
      'message_stop',
    );
    expect(await ask(running.url, { model: 'sim:default' })).toContain('"stop_reason":"max_tokens"');
    // Closing flushes what is pending: no waiting for an export interval.
    await running.close();

    const call = receiver.spans.find(
      (span) => span.name === 'chat flaky:default' && span.kind === SPAN_KIND_SERVER,
    );
    expect(call?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'flaky:default',
      'gen_ai.request.max_tokens': 40,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.stream': true,
      'gen_ai.response.model': 'default',
      'gen_ai.response.finish_reasons': ['max_tokens'],
      'gen_ai.usage.output_tokens': 40,
      'gen_ai.usage.cache_read.input_tokens': 0,
      'gen_ai.usage.cache_creation.input_tokens': 0,
    });
    expect(call!.attributes['gen_ai.response.id']).toMatch(/^msg_/);
    expect(call!.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(call!.events.map((event) => event.name)).toEqual(['sluice.resume']);
    expect(call!.events[0]!.attributes).toMatchObject({ 'sluice.attempt': 1, 'sluice.reason': 'connection' });

    const attempts = receiver.spans.filter((span) => span.parentSpanId === call!.spanId);
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ name: 'chat default', kind: SPAN_KIND_CLIENT, traceId: call!.traceId });
      expect(attempt.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
      });
    }
    expect(attempts[0]!.attributes['error.type']).toBeDefined();
    expect(attempts[1]!.attributes['gen_ai.response.finish_reasons']).toEqual(['max_tokens']);

    // The request's own span (its upstream attempt, a CLIENT span, may bear the same name).
    const plain = receiver.spans.find(
      (span) => span.name === 'chat sim:default' && span.kind === SPAN_KIND_SERVER,
    );
    expect(plain?.attributes).toMatchObject({
      'gen_ai.provider.name': 'sim',
      'gen_ai.request.stream': false,
    });

    const names = new Set(receiver.metrics.map((metric) => metric.name));
    for (const name of [
      'gen_ai.client.operation.duration',
      'gen_ai.client.token.usage',
      'gen_ai.client.operation.time_to_first_chunk',
      'gen_ai.server.time_to_first_token',
    ]) {
      expect(names).toContain(name);
    }
    const tokens = receiver.metrics.find((metric) => metric.name === 'gen_ai.client.token.usage')!;
    expect(tokens.unit).toBe('{token}');
    const output = tokens.points.find(
      (point) =>
        point.attributes['gen_ai.token.type'] === 'output' &&
        point.attributes['gen_ai.request.model'] === 'sim:default',
    );
    expect(output).toMatchObject({
      count: 1,
      sum: 40,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'sim' },
    });
    const duration = receiver.metrics.find((metric) => metric.name === 'gen_ai.client.operation.duration')!;
    expect(duration.unit).toBe('s');
  });

  it('sends nothing without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const before = receiver.requests;
    const running = await gateway({});
    expect(await ask(running.url, { model: 'sim:default' })).toContain('max_tokens');
    await running.close();
    expect(receiver.requests).toBe(before);
  });
});

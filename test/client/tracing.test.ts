import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { InvalidRequestError, OverloadedError } from '../../src/protocol/errors.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { textMessageEvents } from '../helpers/events.ts';
import { ScriptedProvider } from '../helpers/scripted-provider.ts';

// The official SDK as the tracer a library user hands the Client, its spans kept in memory.
const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
  'test',
);
afterEach(() => exporter.reset());

describe('a Client handed a tracer', () => {
  it('records each call as a GenAI span: request, response and usage, never the prompt', async () => {
    const client = new Client('sim:default', {
      provider: createSimulatedProvider({ pacing: NO_PACING }),
      tracer,
    });
    const message = await client.create('A secret prompt', { maxTokens: 12, temperature: 0.2 });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('chat sim:default');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'sim',
      'gen_ai.request.model': 'sim:default',
      'gen_ai.request.max_tokens': 12,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.stream': true,
      'gen_ai.response.id': message.id,
      'gen_ai.response.model': message.model,
      'gen_ai.response.finish_reasons': ['max_tokens'],
      'gen_ai.usage.input_tokens': message.usage.input_tokens,
      'gen_ai.usage.output_tokens': 12,
      'gen_ai.usage.cache_read.input_tokens': 0,
      'gen_ai.usage.cache_creation.input_tokens': 0,
    });
    expect(JSON.stringify(span?.attributes)).not.toContain('secret');
  });

  it('records a retry and a resume as events, with usage summed over the attempts', async () => {
    const events = textMessageEvents(['Hello', ' there', ' friend'], { outputTokens: 3 });
    const provider = new ScriptedProvider([
      { error: new OverloadedError('busy') },
      { events, dropAfter: 4 },
      { events },
    ]);
    const client = new Client('scripted:model', {
      provider,
      tracer,
      policy: { initialDelayMs: 0, maxDelayMs: 0 },
    });
    await client.create('Hi');
    const [span] = exporter.getFinishedSpans();
    expect(span?.events.map((event) => event.name)).toEqual(['sluice.retry', 'sluice.resume']);
    expect(span?.events[0]?.attributes).toMatchObject({
      'sluice.attempt': 1,
      'sluice.reason': 'overloaded_error',
    });
    expect(span?.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(10);
  });

  it('marks a failed call with error.type and the error status', async () => {
    const provider = new ScriptedProvider([{ error: new InvalidRequestError('max_tokens: too large') }]);
    const client = new Client('scripted:model', { provider, tracer });
    await expect(client.create('Hi')).rejects.toThrow('too large');
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['error.type']).toBe('invalid_request_error');
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'max_tokens: too large' });
  });

  it('traces nothing without a tracer', async () => {
    await new Client('sim:default', { provider: createSimulatedProvider({ pacing: NO_PACING }) }).create(
      'Hi',
    );
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { ApiError } from '../../src/protocol/errors.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import type { Provider } from '../../src/providers/types.ts';
import { createServer } from '../../src/server/app.ts';
import { DEFAULT_ROUTE_MAX_TOKENS } from '../../src/server/dispatcher.ts';
import { createTelemetry, type GatewayTelemetry } from '../../src/server/observability.ts';
import {
  CHOOSE_ROUTE_TOOL,
  chooseRouteTool,
  classifierSystemPrompt,
  type RouteDefinition,
} from '../../src/server/router.ts';

const sim = createSimulatedProvider({ pacing: NO_PACING });
// Fails before its first byte, every time: only a fallback can answer in its place.
let brokenCalls = 0;
const broken: Provider = {
  ...sim,
  name: 'broken',
  // biome-ignore lint/correctness/useYield: fails before its first event
  async *stream() {
    brokenCalls++;
    throw new ApiError('The upstream is down.', { status: 500 });
  },
};
const registry = () => new ProviderRegistry({ env: {}, providers: { sim, broken } });
const BILLING: RouteDefinition = {
  name: 'billing',
  description: 'Invoices and refunds.',
  keywords: ['invoice'],
};

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function gateway(options: Parameters<typeof createServer>[0]): Promise<string> {
  app = createServer({ registry: registry(), policy: { maxRetries: 0 }, ...options });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function chat(url: string, request: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/streaming_chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request }),
  });
  return { status: response.status, text: await response.text() };
}

function metric(text: string, pattern: RegExp): number {
  return Number(pattern.exec(text)?.[1] ?? Number.NaN);
}

describe("/streaming_chat's model calls are the gateway's model call", () => {
  it('counts the tokens of the llm classifier and of the route, as the API routes do', async () => {
    const telemetry: GatewayTelemetry = createTelemetry({ logger: false });
    const url = await gateway({
      telemetry,
      routes: { classifier: { type: 'llm' }, fallbackText: 'none', routes: [BILLING] },
    });
    const request = 'billing: where is my invoice?';
    const answer = await chat(url, request);
    expect(answer.status).toBe(200);

    // The same two calls made directly: the simulated model is deterministic.
    const client = new Client('sim:default', { registry: registry() });
    const classified = await client.create(request, {
      system: classifierSystemPrompt([BILLING]),
      tools: [chooseRouteTool(['billing'])],
      toolChoice: CHOOSE_ROUTE_TOOL,
      maxTokens: 256,
      temperature: 0,
    });
    const answered = await client.create(request, { maxTokens: DEFAULT_ROUTE_MAX_TOKENS });
    expect(answer.text).toBe(textOf(answered));

    const metrics = await telemetry.metrics();
    const output = metric(metrics, /^sluice_tokens_total\{model="sim:default",direction="output"\} (\d+)$/m);
    const input = metric(metrics, /^sluice_tokens_total\{model="sim:default",direction="input"\} (\d+)$/m);
    expect(output).toBe(classified.usage.output_tokens + answered.usage.output_tokens);
    expect(input).toBe(classified.usage.input_tokens + answered.usage.input_tokens);
    expect(metrics).toMatch(
      /^sluice_requests_total\{route="\/streaming_chat",model="sim:default",status="200"\} 1$/m,
    );
  });

  it("a route's model that fails before its first byte hands over to its configured fallback", async () => {
    brokenCalls = 0;
    const url = await gateway({
      fallbacks: { 'broken:default': ['sim:default'] },
      routes: {
        classifier: { type: 'rules' },
        fallbackText: 'none',
        routes: [{ ...BILLING, model: 'broken:default' }],
      },
    });
    const answer = await chat(url, 'my invoice');
    expect(answer.status).toBe(200);
    const direct = await new Client('sim:default', { registry: registry() }).create('my invoice', {
      maxTokens: DEFAULT_ROUTE_MAX_TOKENS,
    });
    expect(answer.text).toBe(textOf(direct));
    expect(brokenCalls).toBe(1);
  });

  it('so does the llm classifier’s model', async () => {
    brokenCalls = 0;
    const url = await gateway({
      fallbacks: { 'broken:default': ['sim:default'] },
      routes: {
        classifier: { type: 'llm', model: 'broken:default' },
        fallbackText: 'none',
        routes: [BILLING],
      },
    });
    const answer = await chat(url, 'billing: my invoice');
    expect(answer.status).toBe(200);
    expect(answer.text).not.toBe('none');
    expect(brokenCalls).toBe(1);
  });
});

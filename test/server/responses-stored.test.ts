import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { createServer, gatewayContext } from '../../src/server/app.ts';
import { GatewayConfigSchema } from '../../src/server/config/schema.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';
import type { RequestTelemetry, Telemetry } from '../../src/server/telemetry.ts';

const KEY = 'sk-gateway-responses-stored';
const OTHER_KEY = 'sk-gateway-responses-other';
let gateway: FastifyInstance;
let client: OpenAI;
let other: OpenAI;

// `sim:default` answers at once; `paced:default` slowly enough to leave or cancel mid-answer.
beforeAll(async () => {
  gateway = createServer({
    registry: new ProviderRegistry({
      env: {},
      providers: {
        sim: createSimulatedProvider({ pacing: NO_PACING }),
        paced: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 400 } }),
        // For cancels: an answer that takes seconds, so the cancel always comes before its end.
        slow: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 40 } }),
      },
    }),
    apiKeys: [KEY, OTHER_KEY],
  });
  const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  other = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
});

/** The status a response ends with, polled as JSON. */
async function untilEnded(openai: OpenAI, id: string): Promise<string> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const { status } = await openai.responses.retrieve(id);
    if (status !== 'in_progress' && status !== 'queued') return status ?? 'unknown';
    if (performance.now() > deadline) throw new Error(`${id} is still ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function textOf(events: readonly ResponseStreamEvent[]): string {
  return events
    .flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []))
    .join('');
}

describe('stored responses', () => {
  it('retrieve returns the stored response as it was created, to its key only', async () => {
    const created = await client.responses.create({
      model: 'sim:default',
      input: 'Hi',
      metadata: { a: 'b' },
    });
    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved).toEqual(created);
    await expect(other.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('store: false is not kept', async () => {
    const created = await client.responses.create({ model: 'sim:default', input: 'Hi', store: false });
    await expect(client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('previous_response_id continues the conversation the stored response had', async () => {
    const first = await client.responses.create({ model: 'sim:default', input: "I'm Jeremy" });
    const second = await client.responses.create({
      model: 'sim:default',
      previous_response_id: first.id,
      input: 'What is my name?',
    });
    // The simulated model finds the name in the conversation it was sent.
    expect(second.output_text).toContain('Jeremy');
    expect(second.previous_response_id).toBe(first.id);
    const unknown = await client.responses
      .create({ model: 'sim:default', previous_response_id: 'resp_gone', input: 'Hi' })
      .catch((e: unknown) => e);
    expect((unknown as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'previous_response_id',
    });
  });

  it('input_items lists the conversation a response came from, newest first, in pages', async () => {
    const first = await client.responses.create({ model: 'sim:default', input: "I'm Jeremy" });
    const second = await client.responses.create({
      model: 'sim:default',
      previous_response_id: first.id,
      input: 'What is my name?',
    });
    const listed = [];
    for await (const item of client.responses.inputItems.list(second.id, { order: 'asc', limit: 2 }))
      listed.push(item);
    expect(
      listed.map((item) => (item.type === 'message' ? [item.role, item.content[0]] : item.type)),
    ).toEqual([
      ['user', { type: 'input_text', text: "I'm Jeremy" }],
      ['assistant', { type: 'output_text', text: first.output_text, annotations: [] }],
      ['user', { type: 'input_text', text: 'What is my name?' }],
    ]);
    const newest = await client.responses.inputItems.list(second.id, { limit: 1 });
    expect(newest.data.map((item) => item.id)).toEqual([listed[2]?.id]);
    expect(newest.has_more).toBe(true);
  });

  it('item_reference: an output item of a stored response, by its id', async () => {
    const first = await client.responses.create({ model: 'sim:default', input: "I'm Jeremy" });
    const [item] = first.output;
    const second = await client.responses.create({
      model: 'sim:default',
      input: [
        { role: 'user', content: "I'm Jeremy" },
        { type: 'item_reference', id: item?.id ?? '' },
        { role: 'user', content: 'What is my name?' },
      ],
    });
    expect(second.output_text).toContain('Jeremy');
    const missing = await client.responses
      .create({ model: 'sim:default', input: [{ type: 'item_reference', id: 'msg_nothing_0' }] })
      .catch((e: unknown) => e);
    expect((missing as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'input[0].id',
    });
  });

  it('a stream dropped mid-answer is retrieved with starting_after: the text joined equals the uninterrupted one', async () => {
    const input = 'Tell me about resumable streams';
    const whole = await client.responses.create({ model: 'paced:default', input, store: false });

    const stream = await client.responses.create({ model: 'paced:default', input, stream: true });
    const seen: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (event.type === 'response.output_text.delta' && seen.length >= 8) break; // drops the connection
    }
    const id = seen[0]?.type === 'response.created' ? seen[0].response.id : '';
    const last = seen.at(-1)?.sequence_number ?? -1;
    const rest: ResponseStreamEvent[] = [];
    const resumed = await client.responses.retrieve(id, { stream: true, starting_after: last });
    for await (const event of resumed) rest.push(event);

    expect(rest[0]?.sequence_number).toBe(last + 1);
    expect([...seen, ...rest].map((event) => event.sequence_number)).toEqual(
      [...seen, ...rest].map((_, i) => i),
    );
    expect(rest.at(-1)?.type).toBe('response.completed');
    expect(textOf(seen) + textOf(rest)).toBe(whole.output_text);
    expect((await client.responses.retrieve(id)).output_text).toBe(whole.output_text);
  });

  it('retrieving a stream again gives the same numbered events', async () => {
    const stream = await client.responses.create({ model: 'sim:default', input: 'Hi', stream: true });
    const live: ResponseStreamEvent[] = [];
    for await (const event of stream) live.push(event);
    const id = live[0]?.type === 'response.created' ? live[0].response.id : '';
    const replayed: ResponseStreamEvent[] = [];
    for await (const event of await client.responses.retrieve(id, { stream: true })) replayed.push(event);
    expect(replayed).toEqual(live);
  });

  it('GET /v1/streams/{id} resumes a Responses stream too, after a log id, in Responses events', async () => {
    const stream = await client.responses.create({ model: 'sim:default', input: 'Hi', stream: true });
    const live: ResponseStreamEvent[] = [];
    for await (const event of stream) live.push(event);
    const id = live[0]?.type === 'response.created' ? live[0].response.id : '';
    const response = await fetch(`${client.baseURL}/streams/${id}`, {
      headers: { authorization: `Bearer ${KEY}`, 'last-event-id': '3' },
    });
    const data = (await response.text())
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as ResponseStreamEvent);
    // The events of log ids after 3, exactly as the live stream numbered them.
    expect(data.length).toBeGreaterThan(0);
    expect(data.length).toBeLessThan(live.length - 3);
    expect(data).toEqual(live.slice(live.length - data.length));
  });

  it('cancel stops a response mid-answer; it stays cancelled', async () => {
    const stream = await client.responses.create({
      model: 'slow:default',
      input: 'Tell me a long story about rivers',
      stream: true,
    });
    const seen: ResponseStreamEvent[] = [];
    let cancelled: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      seen.push(event);
      if (event.type === 'response.output_text.delta' && !cancelled) {
        cancelled = await client.responses.cancel(event.item_id.replace(/^msg_(.+)_\d+$/, 'resp_$1'));
      }
    }
    expect(cancelled?.status).toBe('cancelled');
    expect(seen.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'cancelled' } });
    const retrieved = await client.responses.retrieve(cancelled?.id ?? '');
    expect(retrieved.status).toBe('cancelled');
  });

  it('background: returned at once in progress, generated to the end with nobody reading, then retrieved whole', async () => {
    const input = 'Tell me about background work';
    const whole = await client.responses.create({ model: 'paced:default', input, store: false });
    const started = await client.responses.create({ model: 'paced:default', input, background: true });
    expect(started).toMatchObject({ status: 'in_progress', background: true, output: [] });
    const events: ResponseStreamEvent[] = [];
    for await (const event of await client.responses.retrieve(started.id, { stream: true }))
      events.push(event);
    expect(events.at(-1)?.type).toBe('response.completed');
    expect(textOf(events)).toBe(whole.output_text);
  });

  it('background and streaming: the caller leaving does not stop the answer, where it stops any other', async () => {
    const noGrace = createServer({
      registry: new ProviderRegistry({
        env: {},
        // Slow enough that the caller leaves long before the end, even on a busy machine.
        providers: { paced: createSimulatedProvider({ pacing: { ttftMs: 0, tokensPerSecond: 100 } }) },
      }),
      apiKeys: [KEY],
      streams: { onDisconnect: 'detach', detachGraceMs: 0 },
    });
    const url = await noGrace.listen({ host: '127.0.0.1', port: 0 });
    const strict = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    // Leaves after the first text, then watches the status (JSON: no reader that could keep it alive).
    const leaveEarly = async (background: boolean) => {
      const stream = await strict.responses.create({
        model: 'paced:default',
        input: 'Hi',
        background,
        stream: true,
      });
      let id = '';
      for await (const event of stream) {
        if (event.type === 'response.created') id = event.response.id;
        if (event.type === 'response.output_text.delta') break;
      }
      return untilEnded(strict, id);
    };
    try {
      expect(await leaveEarly(true)).toBe('completed');
      expect(await leaveEarly(false)).toBe('failed');
    } finally {
      await noGrace.close();
    }
  });

  it('cancel stops a background response; retrieved, it is cancelled', async () => {
    const started = await client.responses.create({ model: 'slow:default', input: 'Hi', background: true });
    const cancelled = await client.responses.cancel(started.id);
    expect(cancelled.status).toBe('cancelled');
    expect(await untilEnded(client, started.id)).toBe('cancelled');
  });

  it('background: one request in the telemetry, finished when the generation ends, with its usage', async () => {
    const started: string[] = [];
    const finished: { status: number; outputTokens: number | undefined }[] = [];
    let onFinish = () => {};
    const finishedOnce = new Promise<void>((resolve) => {
      onFinish = resolve;
    });
    const telemetry: Telemetry = {
      start(route): RequestTelemetry {
        started.push(route);
        let outputTokens: number | undefined;
        return {
          model() {},
          firstToken() {},
          retry() {},
          usage(usage) {
            outputTokens = usage.output_tokens;
          },
          finish(status) {
            finished.push({ status, outputTokens });
            onFinish();
          },
        };
      },
    };
    const counted = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
      }),
      apiKeys: [KEY],
      telemetry,
    });
    const url = await counted.listen({ host: '127.0.0.1', port: 0 });
    try {
      const countedClient = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
      const response = await countedClient.responses.create({
        model: 'sim:default',
        input: 'Hi',
        background: true,
      });
      expect(response.status).toBe('in_progress');
      await finishedOnce;
      expect((await countedClient.responses.retrieve(response.id)).status).toBe('completed');
      expect(started).toEqual(['/v1/responses']);
      expect(finished).toEqual([{ status: 200, outputTokens: expect.any(Number) }]);
      expect(finished[0]?.outputTokens).toBeGreaterThan(0);
    } finally {
      await counted.close();
    }
  });

  it('delete forgets a stored response', async () => {
    const created = await client.responses.create({ model: 'sim:default', input: 'Hi' });
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.delete(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('how long stored responses are kept (responses.ttlSeconds)', () => {
  it('an hour in memory by default; the configuration says otherwise', () => {
    expect(gatewayContext({}).responsesTtlSeconds).toBe(3600);
    expect(gatewayContext({ responses: { ttlSeconds: 90 } }).responsesTtlSeconds).toBe(90);
    expect(GatewayConfigSchema.parse({ responses: { ttlSeconds: 90 } }).responses).toEqual({
      ttlSeconds: 90,
    });
    expect(GatewayConfigSchema.safeParse({ responses: { ttl: 90 } }).success).toBe(false);
  });

  it('a stored response outlives the log’s TTL when its own is longer', async () => {
    const short = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) },
      }),
      apiKeys: [KEY],
      streamLog: new MemoryStreamLog({ ttlSeconds: 1 }),
      responses: { ttlSeconds: 60 },
    });
    const url = await short.listen({ host: '127.0.0.1', port: 0 });
    try {
      const shortClient = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
      const kept = await shortClient.responses.create({ model: 'sim:default', input: 'Hi' });
      // A chat completion's stream follows the log's TTL: once it is gone, the response is still there.
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'sim:default',
          stream: true,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      });
      const streamId = chat.headers.get('sluice-stream-id');
      await chat.text();
      const deadline = performance.now() + 5000;
      for (;;) {
        const status = (
          await fetch(`${url}/v1/streams/${streamId}`, { headers: { authorization: `Bearer ${KEY}` } })
        ).status;
        if (status === 404) break;
        if (performance.now() > deadline) throw new Error('the chat stream did not expire');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect((await shortClient.responses.retrieve(kept.id)).status).toBe('completed');
    } finally {
      await short.close();
    }
  });
});

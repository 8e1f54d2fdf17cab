import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createServer } from '../../src/server/app.ts';
import { digestToken, newResumeToken } from '../../src/server/durable/resume-token.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { encodeBatch } from '../../src/server/streams/entry.ts';
import { LeaseLostError } from '../../src/server/streams/errors.ts';
import { openRedisStreamLog, type RedisStreamLog } from '../../src/server/streams/redis-store.ts';
import type { Lease } from '../../src/server/streams/types.ts';
import { anthropicText, eventIds, sseEvents } from '../helpers/sse-reader.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from './streams/redis-service.ts';

const KEY = 'sk-takeover-test-key';
const LEASE_MS = 200;
const PARAMS = {
  model: 'upstream:default',
  max_tokens: 200,
  messages: [{ role: 'user' as const, content: 'Write a long essay on rivers, in detail.' }],
};

/**
 * A gateway on Redis takes over streams whose producer "died": the test writes the first
 * events of a real answer to the log as a producer would, then never renews its lease. A
 * reader on the gateway follows; the gateway takes the lease and continues the answer.
 */
describe('takeover of a stream whose producer stopped renewing its lease', () => {
  const prefix = uniquePrefix('takeover');
  let sim: Simulator;
  let app: FastifyInstance;
  let url: string;
  let dead: RedisStreamLog;
  let reference: { text: string; events: StreamEvent[] };

  beforeAll(async () => {
    await redisForTests();
    sim = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 2000 } });
    app = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }) },
      }),
      apiKeys: [KEY],
      pingIntervalMs: 0,
      streamLog: await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: LEASE_MS }),
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    dead = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: LEASE_MS });
    const sse = await (
      await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ ...PARAMS, stream: true }),
      })
    ).text();
    reference = { text: anthropicText(sse), events: eventsOf(sse) };
  });
  afterAll(async () => {
    await app?.close();
    await dead?.close();
    await sim?.close();
    await deleteKeys(prefix);
  });

  /** A stream whose producer logged `events` and died: its lease is left to lapse. */
  async function deadStream(
    events: readonly StreamEvent[],
  ): Promise<{ id: string; token: string; lease: Lease }> {
    const id = `str_takeover_${Math.random().toString(36).slice(2)}`;
    const token = newResumeToken();
    const lease = await dead.create({
      id,
      request: { params: PARAMS, tokenDigest: digestToken(token) },
      wire: 'anthropic',
      ownerKeyHash: 'nobody',
      owner: 'gw_dead',
    });
    await dead.append(lease, encodeBatch(1, events));
    return { id, token, lease };
  }

  const follow = (id: string, token: string) => fetch(`${url}/v1/streams/${id}?token=${token}`);

  it.each([1, 4, 25])('continues after %i logged events: one exact message, usage summed', async (cut) => {
    const { id, token } = await deadStream(reference.events.slice(0, cut));
    const text = await (await follow(id, token)).text();

    const events = eventsOf(text);
    expect(events.filter((event) => event.type === 'message_start')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'message_stop')).toHaveLength(1);
    expect(events.some((event) => event.type === 'error')).toBe(false);
    const ids = eventIds(text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(anthropicText(text)).toBe(reference.text);
    // Block indices continue: every delta is in block 0, as in the uninterrupted answer.
    expect(new Set(events.filter((e) => e.type === 'content_block_delta').map((e) => e.index))).toEqual(
      new Set([0]),
    );
    // The final usage counts both producers: the continuation read the prompt again.
    const finalUsage = (
      events.findLast((e) => e.type === 'message_delta') as {
        usage: { input_tokens: number; output_tokens: number };
      }
    ).usage;
    // One producer's events pass on as the upstream reported them: its message_delta may leave
    // out the input count its message_start gave (usage reports are cumulative, folded).
    const referenceStart = (
      reference.events.find((e) => e.type === 'message_start') as {
        message: { usage: { input_tokens: number } };
      }
    ).message.usage;
    const referenceDelta = (
      reference.events.findLast((e) => e.type === 'message_delta') as {
        usage: { input_tokens?: number; output_tokens: number };
      }
    ).usage;
    const referenceUsage = { ...referenceStart, ...referenceDelta };
    expect(finalUsage.input_tokens).toBeGreaterThan(referenceUsage.input_tokens);
    // ... and the dead producer's output: without it the continuation alone is short of the whole answer.
    expect(finalUsage.output_tokens).toBeGreaterThanOrEqual(referenceUsage.output_tokens);

    const status = (await (
      await fetch(`${url}/v1/streams/${id}?token=${token}`, { headers: { accept: 'application/json' } })
    ).json()) as { status: string; attempts: { kind: string; after: number }[] };
    expect(status.status).toBe('finished');
    expect(status.attempts.map((attempt) => attempt.kind)).toEqual(['takeover']);
    // The continuation follows the last event the dead producer logged.
    expect(status.attempts[0]!.after).toBe(cut);
  });

  it('the dead producer, were it only paused, can no longer append once the stream is taken over', async () => {
    const { id, token, lease } = await deadStream(reference.events.slice(0, 4));
    await (await follow(id, token)).text();
    const late = encodeBatch(5, reference.events.slice(4, 5));
    await expect(dead.append(lease, late)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('takes over at once when the reader comes after the lease was given up, not a lease period later', async () => {
    const patient = createServer({
      registry: new ProviderRegistry({
        env: {},
        providers: { upstream: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }) },
      }),
      apiKeys: [KEY],
      pingIntervalMs: 0,
      // A follower would wait this long before it looks at the lease again.
      streamLog: await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: 60_000 }),
    });
    try {
      const patientUrl = await patient.listen({ host: '127.0.0.1', port: 0 });
      const { id, token, lease } = await deadStream(reference.events.slice(0, 4));
      // What a shutting-down producer does: the lease is free at once, the stream still running.
      await dead.releaseLease(lease);
      const startedAt = performance.now();
      const text = await (await fetch(`${patientUrl}/v1/streams/${id}?token=${token}`)).text();
      expect(performance.now() - startedAt).toBeLessThan(20_000);
      expect(anthropicText(text)).toBe(reference.text);
      expect(eventsOf(text).filter((event) => event.type === 'message_stop')).toHaveLength(1);
    } finally {
      await patient.close();
    }
  });

  it('a partial message ending inside a tool call fails with an error event, not a hang', async () => {
    const { id, token } = await deadStream([
      reference.events[0]!,
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"q":' } },
    ] as StreamEvent[]);
    const text = await (await follow(id, token)).text();
    expect(text).toMatch(/event: error/);
    // Refused before any model call: nothing can continue half a tool call's JSON exactly.
    expect(text).toMatch(/inside a tool_use block, which cannot be continued/);
    const status = (await (
      await fetch(`${url}/v1/streams/${id}?token=${token}`, { headers: { accept: 'application/json' } })
    ).json()) as { status: string };
    expect(status.status).toBe('failed');
  });
});

function eventsOf(sse: string): StreamEvent[] {
  return sseEvents(sse)
    .map((event) => /^data: (.*)$/m.exec(event)?.[1])
    .filter((data): data is string => data !== undefined)
    .map((data) => JSON.parse(data) as StreamEvent);
}

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { NO_PACING } from '../../src/providers/simulated/provider.ts';
import type { Provider } from '../../src/providers/types.ts';
import type { ResiliencePolicy } from '../../src/resilience/policy.ts';
import { createServer } from '../../src/server/app.ts';
import { createTelemetry } from '../../src/server/observability.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { MemoryStreamLog } from '../../src/server/streams/memory-store.ts';
import type { Telemetry } from '../../src/server/telemetry.ts';
import { script } from '../helpers/simulator.ts';
import { anthropicText, eventIds, openAIText, sseEvents } from '../helpers/sse-reader.ts';

const KEY = 'sk-pass-through-test';
/** Cut by max_tokens, with multi-byte characters: a resumed answer must stop where the whole one does. */
const REQUEST = {
  max_tokens: 16,
  stream: true,
  messages: [{ role: 'user', content: 'Describe the café “Zoë” — briefly.' }],
};

let sim: Simulator;
let upstreamBody: string;
/** The whole answer as the gateway relays it with no fault. */
let reference: string;

/** A gateway whose provider `pN` sends the simulator fault script N; `clean` sends none. */
async function gatewayWith(
  faults: object[][],
  options: { passThrough?: boolean; policy?: Partial<ResiliencePolicy>; telemetry?: Telemetry } = {},
) {
  const providers: Record<string, Provider> = {
    clean: createAnthropicProvider({ apiKey: 'sk-up', baseURL: sim.url }),
  };
  faults.forEach((fault, n) => {
    providers[`p${n}`] = createAnthropicProvider({
      apiKey: 'sk-up',
      baseURL: sim.url,
      headers: { 'x-sluice-fault': JSON.stringify(fault) },
    });
  });
  const app = createServer({
    registry: new ProviderRegistry({ env: {}, providers }),
    apiKeys: [KEY],
    pingIntervalMs: 0,
    streamLog: new MemoryStreamLog(),
    // Resumes at once: the sweep makes thousands.
    policy: { initialDelayMs: 0, ...options.policy },
    passThrough: options.passThrough,
    telemetry: options.telemetry,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

async function ask(url: string, model: string, route = '/v1/messages') {
  const response = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...REQUEST, model }),
  });
  return {
    status: response.status,
    relay: response.headers.get('sluice-relay'),
    body: await response.text(),
  };
}

/** What a client must see of any answer: ids 1..n in order, one message_start, and the end. */
function expectWhole(body: string, label: string) {
  const ids = eventIds(body);
  expect(ids, label).toEqual(ids.map((_, i) => i + 1));
  const types = sseEvents(body).map((event) => /^event: (.*)$/m.exec(event)?.[1]);
  expect(
    types.filter((type) => type === 'message_start'),
    label,
  ).toHaveLength(1);
  expect(types.at(-1), label).toBe('message_stop');
  expect(anthropicText(body), label).toBe(anthropicText(reference));
}

beforeAll(async () => {
  sim = await Simulator.start({ pacing: NO_PACING });
  upstreamBody = await fetch(`${sim.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...REQUEST, model: 'default' }),
  }).then((response) => response.text());
  const { app, url } = await gatewayWith([]);
  const clean = await ask(url, 'clean:default');
  await app.close();
  expect(clean.relay).toBe('pass-through');
  reference = clean.body;
});

afterAll(async () => {
  await sim?.close();
});

describe('the pass-through relay', () => {
  it('relays the upstream’s events as they came, numbered, and says so', async () => {
    expect(Buffer.byteLength(anthropicText(reference))).toBeGreaterThan(anthropicText(reference).length);
    // The gateway's text is the upstream's with an id before each event (the simulator answers alike every time).
    const withoutIds = reference.replace(/^id: \d+\n/gm, '');
    expect(withoutIds.replace(/"msg_[^"]*"/, '"msg"')).toBe(upstreamBody.replace(/"msg_[^"]*"/, '"msg"'));
    expectWhole(reference, 'no fault');
  });

  it('a drop at every byte offset of the upstream’s answer: the client gets it exactly once, on the pass-through', async () => {
    const size = Buffer.byteLength(upstreamBody);
    const firstEventEnd = Buffer.byteLength(upstreamBody.slice(0, upstreamBody.indexOf('\n\n') + 2));
    const offsets = Array.from({ length: size }, (_, offset) => offset);
    const { app, url } = await gatewayWith(offsets.map((dropAfterBytes) => script({ dropAfterBytes }, {})));
    try {
      for (let i = 0; i < offsets.length; i += 32) {
        await Promise.all(
          offsets.slice(i, i + 32).map(async (offset) => {
            const answer = await ask(url, `p${offset}:default`);
            const label = `drop after ${offset} of ${size} bytes`;
            expect(answer.status, label).toBe(200);
            expectWhole(answer.body, label);
            // Cut before its first event, the answer opens on the full path's retry; after, on the pass-through.
            expect(answer.relay, label).toBe(offset >= firstEventEnd ? 'pass-through' : 'full');
          }),
        );
      }
    } finally {
      await app.close();
    }
  });

  it('any chunking, CRLF line ends and drops: the same answer (property)', async () => {
    const runs = 40;
    const faults = fc.sample(
      fc.record({
        chunkSize: fc.integer({ min: 1, max: 64 }),
        crlf: fc.boolean(),
        drops: fc.array(fc.integer({ min: 0, max: Buffer.byteLength(upstreamBody) }), { maxLength: 3 }),
      }),
      { numRuns: runs, seed: 20_261_206 },
    );
    const scripts = faults.map(({ chunkSize, crlf, drops }) =>
      script(...drops.map((dropAfterBytes) => ({ dropAfterBytes, chunkSize, crlf })), { chunkSize, crlf }),
    );
    const { app, url } = await gatewayWith(scripts);
    try {
      for (let n = 0; n < runs; n++) {
        const answer = await ask(url, `p${n}:default`);
        expectWhole(answer.body, JSON.stringify(faults[n]));
      }
    } finally {
      await app.close();
    }
  });

  it('the OpenAI route translates in the same pass: the chunks the full relay sends, byte for byte, drops and all', async () => {
    const drops = [0, 300, 607, 1200, 2000];
    const fused = await gatewayWith(drops.map((dropAfterBytes) => script({ dropAfterBytes }, {})));
    const full = await gatewayWith([], { passThrough: false });
    // Chunk ids and times differ from one request to the next; nothing else may.
    const same = (body: string) =>
      body.replace(/"id":"[^"]*"/g, '"id"').replace(/"created":\d+/g, '"created"');
    try {
      const reference = await ask(full.url, 'clean:default', '/v1/chat/completions');
      expect(reference.relay).toBe('full');
      const clean = await ask(fused.url, 'clean:default', '/v1/chat/completions');
      expect(clean.relay).toBe('pass-through');
      expect(same(clean.body)).toBe(same(reference.body));
      for (const [n, offset] of drops.entries()) {
        const answer = await ask(fused.url, `p${n}:default`, '/v1/chat/completions');
        expect(openAIText(answer.body), `drop after ${offset}`).toBe(openAIText(reference.body));
        expect(answer.body.endsWith('data: [DONE]\n\n'), `drop after ${offset}`).toBe(true);
      }
    } finally {
      await fused.app.close();
      await full.app.close();
    }
  });

  it('an upstream that falls silent mid-answer is resumed by the idle watchdog (one timer for every stream)', async () => {
    const { app, url } = await gatewayWith([script({ stallAfterDeltas: 3, stallMs: 60_000 }, {})], {
      policy: { idleTimeoutMs: 200 },
    });
    try {
      const started = performance.now();
      const answer = await ask(url, 'p0:default');
      expect(answer.relay).toBe('pass-through');
      expectWhole(answer.body, 'stalled after 3 deltas');
      // The watchdog fires within a tick (a quarter of the timeout) of the timeout.
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await app.close();
    }
  });

  it('the deadline counts from the request across the hand-over to the full path, not from the hand-over', async () => {
    // Every attempt stalls after 3 deltas of its own. The pass-through notices at 1.5 s (+ a wheel
    // tick) and hands over with what is left of the 2 s deadline: the continuation ends on the
    // deadline, long before its own idle timeout. Given a fresh 2 s, it would idle out and resume again.
    const stall = { stallAfterDeltas: 3, stallMs: 60_000 };
    const { app, url } = await gatewayWith([script(stall, stall, stall, stall)], {
      policy: { idleTimeoutMs: 1500, deadlineMs: 2000, maxRetries: 10 },
    });
    try {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEY },
        body: JSON.stringify({ ...REQUEST, model: 'p0:default' }),
      });
      expect(response.headers.get('sluice-relay')).toBe('pass-through');
      const events = sseEvents(await response.text());
      expect(events.at(-1)).toMatch(/^event: error\ndata: .*deadline/im);
      const status = await fetch(`${url}/v1/streams/${response.headers.get('sluice-stream-id')}`, {
        headers: { accept: 'application/json', 'x-api-key': KEY },
      }).then((reply) => reply.json() as Promise<{ attempts: { kind: string }[] }>);
      expect(status.attempts.map((attempt) => attempt.kind)).toEqual(['resume']);
    } finally {
      await app.close();
    }
  });

  it('a hand-over is recorded as the full path would make it: a restart with thinking on, a resume without', async () => {
    const thinking = { ...REQUEST, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 } };
    const plain = { ...REQUEST, max_tokens: 2048 };
    // Dropped after the third text delta (with thinking on, the thinking block was delivered whole before it).
    const dropInText = async (body: object) => {
      const upstream = await fetch(`${sim.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, model: 'default' }),
      }).then((response) => response.text());
      const data = sseEvents(upstream).map((event) => /^data: (.*)$/m.exec(event)?.[1] ?? '');
      const textDeltas = data.flatMap((line, index) => (line.includes('"text_delta"') ? [index] : []));
      return {
        thinking: data.some((line) => line.includes('"thinking_delta"')),
        dropAfterEvents: textDeltas[2]! + 1,
      };
    };
    const [withThinking, without] = await Promise.all([dropInText(thinking), dropInText(plain)]);
    expect([withThinking.thinking, without.thinking]).toEqual([true, false]);
    const { app, url } = await gatewayWith([
      script({ dropAfterEvents: withThinking.dropAfterEvents }, {}),
      script({ dropAfterEvents: without.dropAfterEvents }, {}),
    ]);
    try {
      const attemptsOf = async (body: object, model: string) => {
        const response = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': KEY },
          body: JSON.stringify({ ...body, model }),
        });
        expect(response.headers.get('sluice-relay')).toBe('pass-through');
        const text = await response.text();
        expect(sseEvents(text).at(-1)).toMatch(/^event: message_stop/m);
        const status = await fetch(`${url}/v1/streams/${response.headers.get('sluice-stream-id')}`, {
          headers: { accept: 'application/json', 'x-api-key': KEY },
        }).then((reply) => reply.json() as Promise<{ attempts: { kind: string }[] }>);
        return status.attempts.map((attempt) => attempt.kind);
      };
      expect(await attemptsOf(thinking, 'p0:default')).toEqual(['restart']);
      expect(await attemptsOf(plain, 'p1:default')).toEqual(['resume']);
    } finally {
      await app.close();
    }
  });

  it('an error event mid-answer: a retryable one is resumed, one that is not ends the stream with it', async () => {
    const { app, url } = await gatewayWith([
      script({ errorAfterDeltas: 4, errorType: 'overloaded_error' }, {}),
      script({ errorAfterDeltas: 4, errorType: 'invalid_request_error', message: 'Bad turn.' }, {}),
    ]);
    try {
      const resumed = await ask(url, 'p0:default');
      expect(resumed.relay).toBe('pass-through');
      expectWhole(resumed.body, 'overloaded after 4 deltas');
      const failed = await ask(url, 'p1:default');
      expect(failed.status).toBe(200);
      const events = sseEvents(failed.body);
      expect(events.at(-1)).toMatch(/^event: error\ndata: .*"invalid_request_error"/m);
      expect(events.filter((event) => event.includes('text_delta'))).toHaveLength(4);
      expect(eventIds(failed.body)).toEqual(eventIds(failed.body).map((_, i) => i + 1));
    } finally {
      await app.close();
    }
  });

  it('is off with passThrough: false, and the answer is the same; /metrics counts the streams each relay carried', async () => {
    const telemetry = createTelemetry({ logger: false });
    const on = await gatewayWith([], { telemetry });
    const { app, url } = await gatewayWith([], { passThrough: false, telemetry });
    try {
      await ask(on.url, 'clean:default');
      await ask(on.url, 'clean:default', '/v1/chat/completions');
      const answer = await ask(url, 'clean:default');
      expect(answer.relay).toBe('full');
      expect(anthropicText(answer.body)).toBe(anthropicText(reference));
      const metrics = await telemetry.metrics();
      expect(metrics).toContain('sluice_relayed_streams_total{route="/v1/messages",relay="pass-through"} 1');
      expect(metrics).toContain(
        'sluice_relayed_streams_total{route="/v1/chat/completions",relay="pass-through"} 1',
      );
      expect(metrics).toContain('sluice_relayed_streams_total{route="/v1/messages",relay="full"} 1');
    } finally {
      await app.close();
      await on.app.close();
    }
  });
});

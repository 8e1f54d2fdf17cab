import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.ts';
import { anthropicText, BodyReader, eventIds, sseEvents } from '../helpers/sse-reader.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from '../server/streams/redis-service.ts';

const LEASE_MS = 500;
const REQUEST = {
  model: 'sim:default',
  max_tokens: 300,
  messages: [{ role: 'user', content: 'Write a long essay on rivers, in detail.' }],
};

/** The producing `sluice serve` is SIGKILLed mid-answer: the instance serving its reader continues it. */
describe('takeover of a stream whose producing process died', () => {
  const prefix = uniquePrefix('takeover-e2e');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-takeover-'));
  const config = join(dir, 'sluice.json');
  let a: ServeProcess;
  let b: ServeProcess;
  // Slow pacing: the answer takes seconds, so the kill lands mid-way.
  const env = () => ({ SLUICE_CONFIG: config, SLUICE_SIM_TPS: '60', SLUICE_LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    await redisForTests();
    writeFileSync(
      config,
      JSON.stringify({ streams: { store: REDIS_URL, keyPrefix: prefix, leaseMs: LEASE_MS } }),
    );
    [a, b] = await Promise.all([serveProcess([], env()), serveProcess([], env())]);
  });
  afterAll(async () => {
    for (const served of [a, b]) served?.child.kill('SIGKILL');
    await deleteKeys(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string, stream: boolean) =>
    fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...REQUEST, stream }),
    });

  it('B continues the answer: the exact text, ids contiguous, one message_start and one message_stop', async () => {
    const reference = (await (await post(b.url, false)).json()) as { content: { text: string }[] };
    const whole = reference.content.map((block) => block.text).join('');

    const live = await post(a.url, true);
    const id = live.headers.get('sluice-stream-id')!;
    const first = new BodyReader(live);
    await first.until((text) => sseEvents(text).length >= 10);
    const follower = new BodyReader(await fetch(`${b.url}/v1/streams/${id}`));
    await follower.until((text) => sseEvents(text).length >= 10);

    a.child.kill('SIGKILL');
    const killedAt = performance.now();
    await a.exited;
    const status = (await (
      await fetch(`${b.url}/v1/streams/${id}`, { headers: { accept: 'application/json' } })
    ).json()) as { last_event_id: number; status: string };
    expect(status.status).toBe('running');
    const lastByA = status.last_event_id;
    await follower.until((text) => eventIds(text).some((n) => n > lastByA));
    const continuedMs = performance.now() - killedAt;
    await follower.all();
    // The client A was serving reconnects to B after the last whole event it got (what an
    // EventSource does): it gets the rest, and its text is the exact answer too.
    await first.all();
    const seen = sseEvents(first.text);
    const lastSeen = eventIds(seen.join('')).at(-1)!;
    const rest = await (
      await fetch(`${b.url}/v1/streams/${id}`, { headers: { 'last-event-id': String(lastSeen) } })
    ).text();
    const reconnected = seen.join('') + rest;
    expect(anthropicText(reconnected)).toBe(whole);
    const reconnectedIds = eventIds(reconnected);
    expect(reconnectedIds).toEqual(reconnectedIds.map((_, i) => i + 1));

    const events = sseEvents(follower.text);
    expect(events.filter((event) => /event: message_start/.test(event))).toHaveLength(1);
    expect(events.filter((event) => /event: message_stop/.test(event))).toHaveLength(1);
    expect(follower.text).not.toMatch(/event: error/);
    const ids = eventIds(follower.text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(lastByA).toBeLessThan(ids.at(-1)!);
    expect(anthropicText(follower.text)).toBe(whole);

    const done = (await (
      await fetch(`${b.url}/v1/streams/${id}`, { headers: { accept: 'application/json' } })
    ).json()) as { status: string; attempts: { kind: string }[]; usage: { output_tokens: number } };
    expect(done.status).toBe('finished');
    expect(done.attempts.map((attempt) => attempt.kind)).toContain('takeover');
    // Usage summed over both producers: at least one token per delta A logged, plus B's.
    const deltas = events.filter((event) => /event: content_block_delta/.test(event)).length;
    expect(done.usage.output_tokens).toBeGreaterThanOrEqual(deltas);
    // The lease lapses within leaseMs, the follower notices within another leaseMs, then one upstream TTFT.
    expect(continuedMs).toBeLessThan(2 * LEASE_MS + 2000);
    console.log(
      `SIGKILL → first continued byte on the other instance: ${continuedMs.toFixed(0)} ms (leaseMs ${LEASE_MS})`,
    );
  });
});

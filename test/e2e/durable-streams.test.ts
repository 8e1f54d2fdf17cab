import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStreamLog } from '../../src/server/streams/redis-store.ts';
import { runSluice } from '../helpers/cli.ts';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.ts';
import { anthropicText, BodyReader, eventIds, sseEvents } from '../helpers/sse-reader.ts';
import {
  deleteKeys,
  freePort,
  REDIS_URL,
  redisForTests,
  uniquePrefix,
} from '../server/streams/redis-service.ts';

const PROMPT = 'Write a long essay on rivers, in detail.';
const REQUEST = {
  model: 'sim:default',
  max_tokens: 400,
  stream: true,
  messages: [{ role: 'user', content: PROMPT }],
};

/** Two `sluice serve` processes sharing one Redis stream log: two instances behind a load balancer. */
describe('two sluice serve processes on one Redis', () => {
  const prefix = uniquePrefix('durable-e2e');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-durable-'));
  const config = join(dir, 'sluice.json');
  let a: ServeProcess;
  let b: ServeProcess;
  const env = () => ({ SLUICE_CONFIG: config, SLUICE_SIM_TPS: '300', SLUICE_LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    await redisForTests();
    writeFileSync(
      config,
      JSON.stringify({ server: { shutdownGraceMs: 300 }, streams: { store: REDIS_URL, keyPrefix: prefix } }),
    );
    [a, b] = await Promise.all([serveProcess([], env()), serveProcess([], env())]);
  });
  afterAll(async () => {
    for (const served of [a, b]) served?.child.kill('SIGKILL');
    await deleteKeys(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string) =>
    fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REQUEST),
    });

  it('resumes on instance B, live, a stream instance A is generating: the exact answer, ids contiguous', async () => {
    const whole = anthropicText(await (await post(b.url)).text());
    const live = await post(a.url);
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 8);
    const kept = sseEvents(reader.text).slice(0, 8).join('');
    await reader.cancel();
    const reconnectAt = performance.now();
    const resumed = await fetch(`${b.url}/v1/streams/${id}`, { headers: { 'last-event-id': '8' } });
    const rest = new BodyReader(resumed);
    await rest.until((text) => text.length > 0);
    const firstByteMs = performance.now() - reconnectAt;
    await rest.all();
    // Still generating when B started replaying: B followed A's log live.
    expect(rest.text).toMatch(/event: message_stop/);
    const ids = eventIds(kept + rest.text);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(anthropicText(kept + rest.text)).toBe(whole);
    console.log(`reconnect on the other instance → first replayed byte: ${firstByteMs.toFixed(1)} ms`);
  });

  it('SIGTERM: a stream still generating at the end of the grace is released, with no error logged', async () => {
    const own = await serveProcess([], env());
    const live = await post(own.url);
    const id = live.headers.get('sluice-stream-id')!;
    const reader = new BodyReader(live);
    await reader.until((text) => sseEvents(text).length >= 3);
    own.child.kill('SIGTERM');
    expect(await own.exited).toBe(0);
    await reader.all();
    // The live client was cut without an error event: it reconnects, rather than giving up.
    expect(reader.text).not.toMatch(/event: error/);
    const log = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix });
    try {
      const info = await log.lookup(id);
      expect(info?.status).toBe('running');
      expect(info?.lease).toBeUndefined();
      expect(info?.error).toBeUndefined();
    } finally {
      await log.close();
    }
  });

  it('exits non-zero at start with a clear error when the Redis store does not answer', async () => {
    const port = await freePort();
    const run = await runSluice(['serve', '--port', '0', '--stream-store', `redis://127.0.0.1:${port}/0`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`stream store at redis://127\\.0\\.0\\.1:${port}/0 cannot be reached`),
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

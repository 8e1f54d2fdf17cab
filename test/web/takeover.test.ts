import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { digestToken, newResumeToken } from '../../src/server/durable/resume-token.ts';
import type { RunningGateway } from '../../src/server/start.ts';
import { encodeBatch } from '../../src/server/streams/entry.ts';
import { openRedisStreamLog, type RedisStreamLog } from '../../src/server/streams/redis-store.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { anthropicText, sseEvents } from '../helpers/sse-reader.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from '../server/streams/redis-service.ts';
import { lastAnswer, shownText, startChatGateway } from './harness.ts';

const LEASE_MS = 200;
const PARAMS = {
  model: 'sim:default',
  max_tokens: 300,
  messages: [{ role: 'user' as const, content: 'Write a long essay on rivers, in detail.' }],
};
const LOGGED = 40;

/**
 * The page reloaded while the instance producing its answer died: the page asks the gateway
 * it reaches for the rest, that gateway takes the stream over from the log and continues it,
 * and the page shows the whole answer, exact, with a marker where the takeover began (from
 * the stream's status). The dead producer is simulated as in test/server/takeover.test.ts:
 * the test logs the first events of a real answer under a lease it never renews.
 */
describe.skipIf(!existsSync(CHROMIUM))('the chat page after the producing instance died', () => {
  const prefix = uniquePrefix('web-takeover');
  let gateway: RunningGateway;
  let dead: RedisStreamLog;
  let browser: Browser;
  let redis = false;

  beforeAll(async () => {
    redis = await redisForTests();
    if (!redis) return;
    gateway = await startChatGateway({
      tokensPerSecond: 1000,
      config: { streams: { store: REDIS_URL, keyPrefix: prefix, leaseMs: LEASE_MS } },
    });
    dead = await openRedisStreamLog(REDIS_URL, { keyPrefix: prefix, leaseMs: LEASE_MS });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await dead?.close();
    if (redis) await deleteKeys(prefix);
  });

  it('continues the answer through a takeover and marks where it began', async ({ skip }) => {
    if (!redis) skip();
    const sse = await (
      await fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...PARAMS, stream: true }),
      })
    ).text();
    const reference = anthropicText(sse);
    const events = sseEvents(sse)
      .filter((event) => event.includes('\ndata: '))
      .map((event) => JSON.parse(/^data: (.*)$/m.exec(event)![1]!) as StreamEvent);
    const logged = events.slice(0, LOGGED);
    const id = `str_web_takeover_${Math.random().toString(36).slice(2)}`;
    const token = newResumeToken();
    const createdAt = Date.now();
    const lease = await dead.create({
      id,
      request: { params: PARAMS, tokenDigest: digestToken(token) },
      wire: 'anthropic',
      ownerKeyHash: 'nobody',
      owner: 'gw_dead',
    });
    await dead.append(lease, encodeBatch(1, logged));
    const partial = anthropicText(
      logged.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''),
    );
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(reference.length);

    // The page as it was saved before the reload: the answer read up to the last logged event.
    const conversation = {
      system: '',
      model: 'sim:default',
      maxTokens: PARAMS.max_tokens,
      turns: [
        { role: 'user', text: PARAMS.messages[0]!.content },
        {
          role: 'assistant',
          answer: { blocks: [{ type: 'text', text: partial }], usage: {}, done: false },
          model: 'sim:default',
          mode: 'messages',
          state: 'streaming',
          stream: { id, token, wire: 'sse' },
          position: LOGGED,
          pricing: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
          sentAt: createdAt,
          firstTokenAt: createdAt,
        },
      ],
    };
    const context = await browser.newContext();
    // Saved before the page first runs: as a reload finds it.
    await context.addInitScript((saved) => {
      if (sessionStorage.getItem('seeded')) return;
      sessionStorage.setItem('seeded', 'yes');
      localStorage.setItem('sluice.chat.conversation', saved);
    }, JSON.stringify(conversation));
    const page = await context.newPage();
    await page.goto(gateway.url);

    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    expect((await lastAnswer(page)).text).toBe(reference);
    const answer = page.locator('[data-role="assistant"]');
    const marker = answer.locator('.body .resumed');
    await expect.poll(() => marker.count()).toBe(1);
    expect(await marker.getAttribute('aria-label')).toMatch(
      /^The gateway resumed the upstream here \(takeover/,
    );
    expect(await shownText(answer.locator('.meta'))).toMatch(/gateway resumed the upstream ×1 \(takeover/);
    // The marker sits exactly where the dead producer's text ended.
    const before = await marker.evaluate((element) => {
      const range = document.createRange();
      range.setStart(element.closest('.body')!, 0);
      range.setEndBefore(element);
      return range.toString();
    });
    expect(before.replace(/\s+/g, ' ').trim()).toBe(partial.replace(/\s+/g, ' ').trim());
    await context.close();
  }, 30_000);
});

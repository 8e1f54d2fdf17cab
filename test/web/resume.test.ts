import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import {
  lastAnswer,
  metric,
  referenceAnswer,
  shownText,
  startChatGateway,
  startProxy,
  words,
} from './harness.ts';

// The answer in flight survives a reload and a dropped connection: the page takes the stream
// up where it was read to (GET /v1/streams/{id}, resume token, after the last event id), and
// the text ends exactly as the uninterrupted answer, from one generation.

const PROMPT = 'Write a long essay on rivers and the sluices on them, in detail.';
const MAX_TOKENS = 500;

describe.skipIf(!existsSync(CHROMIUM))('the chat page resuming an answer', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: string[] = [];
  /** The `after=` of each GET /v1/streams/{id} the page made (no key or token checked here). */
  let resumedAfter: number[] = [];

  beforeAll(async () => {
    gateway = await startChatGateway({ tokensPerSecond: 150 });
    browser = await launchChromium();
  });

  afterEach(async () => {
    await context?.close();
    expect(pageErrors).toEqual([]);
    pageErrors = [];
    resumedAfter = [];
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  async function open(url: string, expectedErrors?: RegExp): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (
        request.method() === 'GET' &&
        url.pathname.startsWith('/v1/streams/') &&
        url.searchParams.has('after')
      ) {
        resumedAfter.push(Number(url.searchParams.get('after')));
      }
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !expectedErrors?.test(message.text()))
        pageErrors.push(message.text());
    });
    await page.goto(url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Max tokens').fill(String(MAX_TOKENS));
    await page.getByLabel('Max tokens').dispatchEvent('change');
    return page;
  }

  /** What the gateway has generated so far: requests to /v1/messages and output tokens. */
  async function generations() {
    await expect.poll(() => metric(gateway.url, 'sluice_active_streams')).toBe(0);
    return {
      requests: await metric(gateway.url, 'sluice_requests_total', { route: '/v1/messages' }),
      tokens: await metric(gateway.url, 'sluice_tokens_total', { direction: 'output' }),
    };
  }

  async function sendAndWaitForPart(page: Page): Promise<string> {
    await page.getByRole('textbox', { name: 'Message' }).fill(PROMPT);
    await page.getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(async () => (await lastAnswer(page)).text.length, { timeout: 10_000 })
      .toBeGreaterThan(300);
    const part = await lastAnswer(page);
    expect(part.state).toBe('streaming');
    return part.text;
  }

  async function expectWholeAnswerFromOneGeneration(
    page: Page,
    before: Awaited<ReturnType<typeof generations>>,
  ) {
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 20_000 }).toBe('done');
    const answer = await lastAnswer(page);
    const after = await generations();
    // One generation: one request to the model, its tokens counted once, the rest read from the log.
    expect(after.requests - before.requests).toBe(1);
    expect(after.tokens - before.tokens).toBe(answer.usage.output_tokens);
    // Taken up where it was read to: after the last event received, never from the start.
    expect(resumedAfter.length).toBeGreaterThanOrEqual(1);
    expect(resumedAfter.every((after) => after > 0)).toBe(true);
    const reference = await referenceAnswer(gateway.url, PROMPT, MAX_TOKENS);
    expect(answer.text).toBe(reference);
    expect(words(await shownText(page.locator('[data-role="assistant"] .body')))).toBe(words(reference));
  }

  it('continues the answer after a reload, with no word repeated or missing and no second generation', async () => {
    const before = await generations();
    const page = await open(gateway.url);
    const part = await sendAndWaitForPart(page);
    await page.reload();
    // The conversation is back at once, the answer where it was, and it goes on.
    await expect.poll(() => shownText(page.locator('[data-role="user"]'))).toBe(PROMPT);
    const shownAfterReload = await lastAnswer(page);
    expect(shownAfterReload.text.startsWith(part)).toBe(true);
    await expectWholeAnswerFromOneGeneration(page, before);
  }, 40_000);

  it('continues the answer after the connection drops and comes back, exactly, from one generation', async () => {
    const { port } = new URL(gateway.url);
    const proxy = await startProxy(Number(port));
    try {
      const before = await generations();
      // The browser's own reports of the refused connections are expected while the network is away.
      const page = await open(`http://127.0.0.1:${proxy.port}/`, /net::ERR_|Failed to load resource/);
      await sendAndWaitForPart(page);
      proxy.setOffline(true);
      proxy.cut();
      const meta = page.locator('[data-role="assistant"] .meta');
      await expect.poll(() => shownText(meta)).toContain('Connection lost: reconnecting…');
      await expect.poll(() => proxy.refused()).toBeGreaterThanOrEqual(1);
      expect((await lastAnswer(page)).state).toBe('streaming');
      proxy.setOffline(false);
      await expectWholeAnswerFromOneGeneration(page, before);
      expect(await shownText(meta)).not.toContain('reconnecting');
    } finally {
      await proxy.close();
    }
  }, 40_000);
});

import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, metric, referenceAnswer, shownText, startChatGateway, words } from './harness.ts';

// The chat page at `/`, driven in Chromium against a real gateway on the simulated model.

describe.skipIf(!existsSync(CHROMIUM))('the chat page', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    gateway = await startChatGateway({ tokensPerSecond: 150 });
    browser = await launchChromium();
  });

  afterEach(async () => {
    await context?.close();
    expect(pageErrors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  async function open(url = gateway.url): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    return page;
  }

  it('streams an answer that grows in several steps and ends as the non-streaming answer to the same request', async () => {
    const page = await open();
    const prompt = 'Tell me about rivers and the sluices on them.';
    await page.getByRole('textbox', { name: 'Message' }).fill(prompt);
    // Record every text the answer shows, from the first to the last, in the page itself.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const answer = document.querySelector('[data-role="assistant"] .body');
        const text = answer?.textContent ?? '';
        if (text && text !== seen.at(-1)) seen.push(text);
      }).observe(document.getElementById('conversation')!, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    });
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    const reference = await referenceAnswer(gateway.url, prompt);
    const answer = await lastAnswer(page);
    expect(answer.text).toBe(reference);
    const shown = await shownText(page.locator('[data-role="assistant"] .body'));
    expect(words(shown)).toBe(words(reference));
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const growing = seen.filter((text) => text !== '…');
    expect(growing.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < growing.length; i++)
      expect(growing[i]!.length).toBeGreaterThan(growing[i - 1]!.length);
    expect(words(growing.at(-1)!)).toBe(words(reference));
    await expect.poll(() => shownText(page.locator('[data-role="user"]'))).toBe(prompt);
    // Its figures: time to first token, speed, tokens in and out, cost at the model's price.
    const meta = page.locator('[data-role="assistant"] .meta');
    await expect.poll(() => shownText(meta)).toMatch(/TTFT \d+ ms/);
    const figures = await shownText(meta);
    expect(figures).toMatch(/\d+(\.\d)? tok\/s/);
    expect(figures).toContain(`${answer.usage.input_tokens} in · ${answer.usage.output_tokens} out`);
    expect(figures).toContain('$0.0000');
    // Announced politely: the conversation is a polite live log, the end said in a status.
    expect(await page.locator('#conversation').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('[data-role="assistant"]').getAttribute('aria-busy')).toBe('false');
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Answer complete.');
  }, 30_000);
  it('stops mid-answer (Stop): the gateway aborts the upstream, and the partial answer stays', async () => {
    const page = await open();
    await setMaxTokens(page, 2000);
    const before = await metric(gateway.url, 'sluice_tokens_total', { direction: 'output' });
    const cutBefore = await metric(gateway.url, 'sluice_requests_total', {
      route: '/v1/messages',
      status: '499',
    });
    await page.getByRole('textbox', { name: 'Message' }).fill('Write a long essay on rivers, in detail.');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(async () => (await lastAnswer(page)).text.length, { timeout: 10_000 })
      .toBeGreaterThan(100);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(async () => (await lastAnswer(page)).state).toBe('stopped');
    // The generation ended at the gateway: no stream left active, and its request counted as ended.
    await expect.poll(() => metric(gateway.url, 'sluice_active_streams', { route: '/v1/messages' })).toBe(0);
    const partial = await lastAnswer(page);
    const generated = (await metric(gateway.url, 'sluice_tokens_total', { direction: 'output' })) - before;
    // At 150 tokens a second, 2000 would take 13 s: what was generated is a fraction of it.
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(1000);
    expect(await page.locator('[data-role="assistant"]').getAttribute('data-state')).toBe('stopped');
    expect(words(await shownText(page.locator('[data-role="assistant"] .body')))).toBe(words(partial.text));
    await expect.poll(() => shownText(page.getByRole('status'))).toBe('Stopped.');
    // …and its request ended as cut short (499), not as an answer delivered.
    await expect
      .poll(() => metric(gateway.url, 'sluice_requests_total', { route: '/v1/messages', status: '499' }))
      .toBe(cutBefore + 1);
  }, 30_000);

  it('fits a 390 px wide screen: nothing scrolls sideways, the controls stay in view', async () => {
    context = await browser.newContext({ viewport: { width: 390, height: 780 }, colorScheme: 'dark' });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(gateway.url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    await page
      .getByRole('textbox', { name: 'Message' })
      .fill('A question on a phone, about rivers and sluices.');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    for (const name of ['Send', 'Stop', 'Settings', 'New chat']) {
      const box = (await page.getByRole('button', { name, exact: true }).boundingBox())!;
      expect(box.x + box.width, name).toBeLessThanOrEqual(390);
    }
    const answer = (await page.locator('[data-role="assistant"]').boundingBox())!;
    expect(answer.x + answer.width).toBeLessThanOrEqual(390);
    // The dark scheme followed prefers-color-scheme: a dark background.
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(22, 23, 26)');
  }, 30_000);

  it('is usable with the keyboard alone: Enter sends, Shift+Enter adds a line, Esc stops', async () => {
    const page = await open();
    await setMaxTokens(page, 2000);
    // The page opens with the message field focused.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
    await page.keyboard.type('First line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line of a long essay on rivers');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => shownText(page.locator('[data-role="user"]')))
      .toBe('First line\nsecond line of a long essay on rivers');
    await expect
      .poll(async () => (await lastAnswer(page)).text.length, { timeout: 10_000 })
      .toBeGreaterThan(50);
    await page.keyboard.press('Escape');
    await expect.poll(async () => (await lastAnswer(page)).state).toBe('stopped');
    // Tab reaches Regenerate; Enter on it asks again, and the new answer streams in place.
    const focused: string[] = [];
    for (let i = 0; i < 12 && !focused.includes('Regenerate'); i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate(() => document.activeElement?.textContent ?? ''));
    }
    expect(focused).toContain('Regenerate');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state).toBe('streaming');
    expect(await page.locator('[data-role="assistant"]').count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(async () => (await lastAnswer(page)).state).toBe('stopped');
  }, 30_000);
});

/** Opens the settings and sets the answer's max tokens (long enough to stop in the middle). */
async function setMaxTokens(page: Page, tokens: number): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByLabel('Max tokens').fill(String(tokens));
  await page.getByLabel('Max tokens').dispatchEvent('change');
  await page.getByRole('textbox', { name: 'Message' }).focus();
}

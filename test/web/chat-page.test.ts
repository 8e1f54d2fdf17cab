import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, metric, referenceAnswer, startChatGateway, words } from './harness.ts';

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
    const shown = await page.locator('[data-role="assistant"] .body').innerText();
    expect(words(shown)).toBe(words(reference));
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const growing = seen.filter((text) => text !== '…');
    expect(growing.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < growing.length; i++) expect(growing[i]!.length).toBeGreaterThan(growing[i - 1]!.length);
    expect(words(growing.at(-1)!)).toBe(words(reference));
    await expect.poll(() => page.locator('[data-role="user"]').innerText()).toBe(prompt);
    // Its figures: time to first token, speed, tokens in and out, cost at the model's price.
    const meta = page.locator('[data-role="assistant"] .meta');
    await expect.poll(() => meta.innerText()).toMatch(/TTFT \d+ ms/);
    const figures = await meta.innerText();
    expect(figures).toMatch(/\d+(\.\d)? tok\/s/);
    expect(figures).toContain(`${answer.usage.input_tokens} in · ${answer.usage.output_tokens} out`);
    expect(figures).toContain('$0.0000');
  }, 30_000);
});

import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, shownText, startChatGateway } from './harness.ts';

const QUESTION = 'Where is my invoice?';

// The model picker's "Routed (/streaming_chat)": the gateway's router picks the route, and
// the answer shows which.
describe.skipIf(!existsSync(CHROMIUM))('the chat page in routed mode', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    gateway = await startChatGateway({
      tokensPerSecond: 300,
      config: {
        routes: {
          classifier: { type: 'rules' },
          fallbackText: 'I only answer billing questions.',
          definitions: [{ name: 'billing', keywords: ['invoice'], system: 'You answer billing questions.' }],
        },
      },
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gateway?.close();
  });

  it('streams the answer /streaming_chat gives, and shows the route it chose', async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(gateway.url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption('/streaming_chat');
    await page.getByRole('textbox', { name: 'Message' }).fill(QUESTION);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    const routed = await fetch(`${gateway.url}/streaming_chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: QUESTION }),
    });
    expect(routed.headers.get('sluice-route')).toBe('billing');
    const reference = await routed.text();
    expect(reference).toContain('You answer billing questions.');
    expect((await lastAnswer(page)).text).toBe(reference);
    const meta = await shownText(page.locator('[data-role="assistant"] .meta'));
    expect(meta).toContain('Route: billing');
    expect(meta).toContain('/streaming_chat');
    expect(pageErrors).toEqual([]);
  }, 30_000);
});

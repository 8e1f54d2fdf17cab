import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, startChatGateway, words } from './harness.ts';

// What the gateway did for an answer, shown on it: where it resumed the upstream after a
// failure mid-answer, and the route `/streaming_chat` chose.

describe.skipIf(!existsSync(CHROMIUM))('the chat page showing the gateway at work', () => {
  let simulator: Simulator;
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    // An upstream over HTTP that sends an overloaded_error after 30 deltas of its first answer.
    simulator = await Simulator.start({
      pacing: { ttftMs: 0, tokensPerSecond: 300 },
      faults: [{ errorAfterDeltas: 30 }, {}],
    });
    gateway = await startChatGateway({
      config: {
        providers: {
          sim: { type: 'sim', pacing: { ttftMs: 10, tokensPerSecond: 300 } },
          flaky: { type: 'anthropic', baseURL: simulator.url, apiKeyEnv: 'FLAKY_KEY' },
        },
        aliases: { flaky: 'flaky:default' },
        routes: {
          classifier: { type: 'rules' },
          fallbackText: 'I only answer billing questions.',
          definitions: [
            {
              name: 'billing',
              keywords: ['invoice'],
              system: 'You answer billing questions.',
              model: 'sim:default',
            },
          ],
        },
      },
      env: { FLAKY_KEY: 'sk-simulator' },
    });
    browser = await launchChromium();
  });

  afterEach(async () => {
    await context?.close();
    console.log(pageErrors);
    expect(pageErrors).toEqual([]);
    pageErrors = [];
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await simulator?.close();
  });

  async function open(): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(gateway.url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    return page;
  }

  it('shows the route /streaming_chat chose for a routed answer, and its text', async () => {
    const page = await open();
    await page.getByLabel('Model').selectOption('/streaming_chat');
    await page.getByRole('textbox', { name: 'Message' }).fill('Where is my invoice?');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    const routed = await fetch(`${gateway.url}/streaming_chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: 'Where is my invoice?' }),
    });
    expect(routed.headers.get('sluice-route')).toBe('billing');
    expect((await lastAnswer(page)).text).toBe(await routed.text());
    const meta = await page.locator('[data-role="assistant"] .meta').innerText();
    expect(meta).toContain('Route: billing');
    expect(meta).toContain('/streaming_chat');
  }, 30_000);
});

import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { PAGE_CSP, WEB_ROOT } from '../../src/server/web-page.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, referenceAnswer, shownText, startChatGateway } from './harness.ts';

const KEY = 'sk-web-page-test';

describe('the chat page over HTTP', () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await startChatGateway({ apiKeys: [KEY] });
  });
  afterAll(() => gateway?.close());

  it('is served at / without a key, with a strict CSP, nosniff and no framing', async () => {
    const response = await fetch(`${gateway.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toBe(PAGE_CSP);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp.split('; ')).toContain(directive);
    }
    expect(csp).not.toContain('unsafe');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const html = await response.text();
    // Nothing inline that the CSP would block: scripts by src, no style or event attributes.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves its scripts with their types, and nothing outside web/', async () => {
    const script = await fetch(`${gateway.url}/web/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(readFileSync(`${WEB_ROOT}app.js`, 'utf8'));
    const marked = await fetch(`${gateway.url}/web/vendor/marked.esm.js`);
    expect(marked.status).toBe(200);
    for (const path of [
      '/web/../package.json',
      '/web/%2e%2e/package.json',
      '/web/',
      '/web/nope.js',
      '/web/index.html',
    ]) {
      const response = await fetch(`${gateway.url}${path}`);
      expect(response.status, path).toBe(404);
    }
  });

  it('lists models with their prices per million tokens, in a shape the SDKs still read', async () => {
    const response = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    const { data } = (await response.json()) as { data: { id: string; pricing: unknown; type: string }[] };
    const sim = data.find((entry) => entry.id === 'sim:default')!;
    expect(sim.type).toBe('model');
    expect(sim.pricing).toEqual({ input: 0, output: 0, cache_read: 0, cache_write: 0 });
    const one = await fetch(`${gateway.url}/v1/models/anthropic:claude-sonnet-4-5`, {
      headers: { 'x-api-key': KEY },
    });
    expect(((await one.json()) as { pricing: unknown }).pricing).toEqual({
      input: 3,
      output: 15,
      cache_read: 0.3,
      cache_write: 3.75,
    });
    const unpriced = await fetch(`${gateway.url}/v1/models/openai:llama3.1`, {
      headers: { 'x-api-key': KEY },
    });
    expect(((await unpriced.json()) as { pricing: unknown }).pricing).toBeNull();
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the chat page in Chromium: model output, keys, framing', () => {
  let open: RunningGateway;
  let keyed: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;
  let framer: Server;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    open = await startChatGateway({ tokensPerSecond: 400 });
    keyed = await startChatGateway({ apiKeys: [KEY], tokensPerSecond: 400 });
    browser = await launchChromium();
  });

  afterEach(async () => {
    await context?.close();
    expect(pageErrors).toEqual([]);
    pageErrors = [];
  });

  afterAll(async () => {
    await browser?.close();
    await open?.close();
    await keyed?.close();
    await new Promise((resolve) => framer?.close(resolve));
  });

  async function newPage(expectedErrors?: RegExp): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    // Every CSP violation the page commits, reported by the browser.
    await page.addInitScript(() => {
      const violations: string[] = [];
      (window as unknown as { violations: string[] }).violations = violations;
      document.addEventListener('securitypolicyviolation', (event) =>
        violations.push(`${event.violatedDirective} ${event.blockedURI}`),
      );
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !expectedErrors?.test(message.text()))
        pageErrors.push(message.text());
    });
    return page;
  }

  it('shows model output that holds HTML and script as text, and runs none of it', async () => {
    const page = await newPage();
    await page.goto(open.url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    const prompt =
      '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> [link](javascript:window.pwned=3)';
    await page.getByRole('textbox', { name: 'Message' }).fill(prompt);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    const reference = await referenceAnswer(open.url, prompt);
    // The simulated model quotes the prompt: the answer really holds the markup.
    expect(reference).toContain('<img src=x onerror=');
    expect(reference).toContain('<script>');
    const answer = page.locator('[data-role="assistant"] .body');
    const shown = await shownText(answer);
    expect(shown).toContain('<img src=x onerror="window.pwned=1">');
    expect(shown).toContain('<script>window.pwned=2</script>');
    expect(await answer.locator('img, script, iframe, [onerror]').count()).toBe(0);
    expect(await answer.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await page.locator('[data-role="user"] img, [data-role="user"] script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // The page itself keeps to its CSP: no violation while it loaded, streamed and rendered.
    expect(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).toEqual([]);
  }, 30_000);

  it('refuses to show inside a frame from another origin (frame-ancestors none)', async () => {
    framer = createServer((_request, response) => {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><iframe src="${open.url}/"></iframe>`);
    });
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    const page = await newPage(/frame-ancestors|Failed to load resource|ERR_BLOCKED/);
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes("frame-ancestors 'none'")) refusals.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`);
    await expect.poll(() => refusals.length).toBeGreaterThanOrEqual(1);
    const frame = page.frames().find((candidate) => candidate !== page.mainFrame())!;
    expect(await frame.locator('#message').count()).toBe(0);
  }, 30_000);

  it('asks for the key a gateway requires, says plainly when it is refused, and keeps it out of URLs', async () => {
    const page = await newPage(/401|Failed to load resource/);
    const urls: string[] = [];
    const keyHeaders: (string | undefined)[] = [];
    page.on('request', (request) => {
      urls.push(request.url());
      if (new URL(request.url()).pathname.startsWith('/v1/')) keyHeaders.push(request.headers()['x-api-key']);
    });
    await page.goto(keyed.url);
    const keyMessage = page.locator('#key-message');
    await expect
      .poll(() => shownText(keyMessage))
      .toBe('This gateway requires an API key (401): enter one to chat.');
    // A reload in the same tab asks for the key at once: no second call without one (each
    // counts toward the gateway's failed-key limit).
    await page.reload();
    await expect
      .poll(() => shownText(keyMessage))
      .toBe('This gateway requires an API key (401): enter one to chat.');
    expect(keyHeaders.filter((header) => header === undefined)).toHaveLength(1);
    await page.getByLabel('API key').fill('sk-wrong');
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect.poll(() => shownText(keyMessage)).toMatch(/^The gateway refused this API key \(401\)/);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    await page.getByRole('textbox', { name: 'Message' }).fill('Hello there');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');
    expect((await lastAnswer(page)).text).toBe(await referenceAnswer(keyed.url, 'Hello there', 1024, KEY));
    expect(keyHeaders.at(-1)).toBe(KEY);
    expect(urls.filter((url) => url.includes(KEY) || url.includes('sk-wrong'))).toEqual([]);
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.chat.key'))).toBe(KEY);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(KEY);
  }, 30_000);
});

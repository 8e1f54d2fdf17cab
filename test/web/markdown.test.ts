import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { startChatGateway } from './harness.ts';

// The page's markdown module (web/markdown.js) in Chromium, on text the simulated model does
// not write: code blocks, links, raw HTML.
describe.skipIf(!existsSync(CHROMIUM))('markdown as the page renders it', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    gateway = await startChatGateway();
    browser = await launchChromium();
    context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    await page.goto(gateway.url);
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gateway?.close();
  });

  /** Renders `text` into a fresh element with the page's own module; returns the element's HTML. */
  function render(text: string): Promise<string> {
    // A string, not a function: vitest would rewrite a function's import() for Node.
    return page.evaluate(`(async () => {
      const { renderMarkdown } = await import('/web/markdown.js');
      document.getElementById('rendered')?.remove();
      const target = document.createElement('div');
      target.id = 'rendered';
      document.body.append(target);
      renderMarkdown(target, ${JSON.stringify(text)}, () => 'marker');
      return target.innerHTML;
    })()`);
  }

  it('renders a code block with a Copy button that copies the code', async () => {
    const code = 'const answer = 42;\nconsole.log("<b>" + answer + "</b>");';
    const html = await render(`Here:\n\n\`\`\`js\n${code}\n\`\`\`\n\nDone.`);
    expect(html).toContain('<code class="language-js">');
    await page.locator('#rendered').getByRole('button', { name: 'Copy code' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
    await expect.poll(() => page.locator('#rendered .copy').textContent()).toBe('Copied');
  });

  it('keeps links to the web and drops script URLs; raw HTML shows as text', async () => {
    const html = await render(
      '[docs](https://example.com/a) [bad](javascript:alert(1)) <iframe src="/"></iframe> <b onclick="x()">b</b>\n\n<div onmouseover="y()">block</div>',
    );
    const rendered = page.locator('#rendered');
    expect(await rendered.locator('a[href="https://example.com/a"]').count()).toBe(1);
    expect(await rendered.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await rendered.locator('iframe, b, div, [onclick], [onmouseover]').count()).toBe(0);
    expect(await rendered.textContent()).toContain('<iframe src="/"></iframe>');
    expect(await rendered.textContent()).toContain('<div onmouseover="y()">block</div>');
    expect(html).not.toContain('<iframe');
  });
});

/**
 * Takes the README's screenshots of the chat page (`npm run screenshots`): a gateway on the
 * simulated model, Chromium at /usr/bin/chromium through playwright-core, and the same short
 * conversation in the light and the dark colour scheme, each answer streamed and shown with
 * its figures. Writes docs/screenshots/chat-light.png and chat-dark.png.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../src/server/config.ts';
import { startGateway } from '../src/server/start.ts';

const OUT = new URL('../docs/screenshots/', import.meta.url);
// The second turn names the page's calculator: its call and result show folded in the answer.
const TURNS = ["I'm Jeremy", 'Use the calculator on "604542+6458932", please.'];

const scratch = mkdtempSync(join(tmpdir(), 'sluice-screenshots-'));
const configPath = join(scratch, 'sluice.config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    providers: { sim: { type: 'sim', pacing: { ttftMs: 40, tokensPerSecond: 120 } } },
    server: { logLevel: 'silent' },
  }),
);
const gateway = await startGateway(loadConfig({ env: {}, path: configPath, overrides: { port: 0 } }).config, {
  env: {},
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  mkdirSync(OUT, { recursive: true });
  for (const scheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 900, height: 720 } });
    const page = await context.newPage();
    await page.goto(gateway.url);
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('checkbox', { name: /Tools/ }).check();
    await page.getByRole('button', { name: 'Settings' }).click();
    for (const text of TURNS) await ask(page, text);
    await page.screenshot({ path: new URL(`chat-${scheme}.png`, OUT).pathname });
    await context.close();
    console.log(`docs/screenshots/chat-${scheme}.png`);
  }
} finally {
  await browser.close();
  await gateway.close();
  rmSync(scratch, { recursive: true, force: true });
}

/** Sends `text` and waits until its answer has streamed to its end. */
async function ask(page: Page, text: string): Promise<void> {
  const answers = await page.locator('[data-role="assistant"][data-state="done"]').count();
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.keyboard.press('Enter');
  await page
    .locator('[data-role="assistant"][data-state="done"]')
    .nth(answers)
    .waitFor({ state: 'attached', timeout: 30_000 });
}

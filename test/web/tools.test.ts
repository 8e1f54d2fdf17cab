import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { lastAnswer, shownText, startChatGateway } from './harness.ts';

const PROMPT = 'Use the calculator on "604542+6458932".';

interface Block {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

// With "Tools" on, the page offers its calculator and clock; the simulated model calls the
// one the prompt names, the page runs it, sends the result, and the answer goes on.
describe.skipIf(!existsSync(CHROMIUM))('the chat page with its tools', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    gateway = await startChatGateway({ tokensPerSecond: 400 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gateway?.close();
  });

  /** The same loop through the API, not streamed: what the page's answer must read. */
  async function referenceLoop(tools: unknown): Promise<{ text: string; call: Block }> {
    const ask = async (messages: unknown[]) => {
      const response = await fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim:default', max_tokens: 1024, tools, messages }),
      });
      return ((await response.json()) as { content: Block[] }).content;
    };
    const messages: unknown[] = [{ role: 'user', content: PROMPT }];
    const first = await ask(messages);
    const call = first.find((block) => block.type === 'tool_use')!;
    messages.push({ role: 'assistant', content: first });
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: call.id, content: '7063474' }],
    });
    const second = await ask(messages);
    const text = [...first, ...second].map((block) => block.text ?? '').join('');
    return { text, call };
  }

  it('shows the tool call and its result folded in the answer, and the answer that uses it', async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const sent: { tools?: { name: string }[]; messages: unknown[] }[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/v1/messages'))
        sent.push(request.postDataJSON());
    });
    await page.goto(gateway.url);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(1);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('checkbox', { name: /Tools: the model may use/ }).check();
    await page.getByRole('textbox', { name: 'Message' }).fill(PROMPT);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await lastAnswer(page)).state, { timeout: 15_000 }).toBe('done');

    expect(sent).toHaveLength(2);
    expect(sent[0]!.tools!.map((tool) => tool.name)).toEqual(['calculator', 'current_time']);
    const reference = await referenceLoop(sent[0]!.tools);
    expect(reference.call.input).toEqual({ expression: '604542+6458932' });
    expect((await lastAnswer(page)).text).toBe(reference.text);
    expect(reference.text).toContain('7063474');

    const answer = page.locator('[data-role="assistant"]');
    const folded = answer.locator('details.block');
    expect(await folded.count()).toBe(2);
    expect(
      await folded.evaluateAll((all) => all.map((element) => (element as HTMLDetailsElement).open)),
    ).toEqual([false, false]);
    expect(await folded.nth(0).locator('summary').textContent()).toBe('Tool call: calculator');
    expect(JSON.parse((await folded.nth(0).locator('code').textContent())!)).toEqual({
      expression: '604542+6458932',
    });
    expect(await folded.nth(1).locator('summary').textContent()).toBe('Tool result');
    expect(await folded.nth(1).locator('code').textContent()).toBe('7063474');
    // Unfolded with the keyboard, the call shows its input.
    await folded.nth(0).locator('summary').focus();
    await page.keyboard.press('Enter');
    expect(await shownText(folded.nth(0))).toContain('"expression": "604542+6458932"');
    expect(pageErrors).toEqual([]);
  }, 30_000);
});

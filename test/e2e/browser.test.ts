import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium, startGatewayForPage, startPagesServer } from '../helpers/browser.ts';

const KEY = 'sk-browser-test';
const REQUEST = {
  model: 'sim:default',
  max_tokens: 24,
  messages: [{ role: 'user', content: 'Hi from a web page' }],
};

/** What a page's script sees of a streamed response: its status, headers and every read. */
interface ReadInBrowser {
  status: number;
  headers: Record<string, string | null>;
  reads: number;
  text: string;
}

describe.skipIf(!existsSync(CHROMIUM))('the gateway from a web page in Chromium', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-browser-test-'));
  let pages: Server;
  let pageOrigin: string;
  let foreignOrigin: string;
  let gateway: RunningGateway;
  let browser: Browser;

  beforeAll(async () => {
    // The app's own origin serves an empty page; the same server under another host name is
    // another origin, one the gateway does not allow.
    const app = await startPagesServer();
    pages = app.server;
    pageOrigin = app.origin;
    foreignOrigin = `http://localhost:${app.port}`;
    gateway = await startGatewayForPage(scratch, KEY, pageOrigin);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await new Promise((resolve) => pages?.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Requests to /v1/messages the gateway has answered, from its metrics. */
  async function messagesServed(): Promise<number> {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    let served = 0;
    for (const [, count] of metrics.matchAll(
      /^sluice_requests_total\{route="\/v1\/messages",[^}]*\} (\d+)$/gm,
    )) {
      served += Number(count);
    }
    return served;
  }

  async function pageAt(origin: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(origin);
    return page;
  }

  /** A POST from the page's own script, with the headers a browser app sends (a CORS preflight). */
  function postFrom(page: Page, path: string, body: unknown): Promise<ReadInBrowser> {
    return page.evaluate(
      async ({ url, key, body }) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': key,
            'anthropic-version': '2023-06-01',
          },
          body: JSON.stringify(body),
        });
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        let reads = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          reads++;
          text += decoder.decode(value, { stream: true });
        }
        const headers: Record<string, string | null> = {};
        for (const name of ['content-type', 'sluice-stream-id', 'sluice-route'])
          headers[name] = response.headers.get(name);
        return { status: response.status, headers, reads, text };
      },
      { url: `${gateway.url}${path}`, key: KEY, body },
    );
  }

  it('streams /v1/messages to the page over several reads: the same text as the whole answer, and the stream id readable', async () => {
    const page = await pageAt(pageOrigin);
    try {
      const streamed = await postFrom(page, '/v1/messages', { ...REQUEST, stream: true });
      expect(streamed.status).toBe(200);
      expect(streamed.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(streamed.headers['sluice-stream-id']).toMatch(/^str_/);
      expect(streamed.reads).toBeGreaterThan(1);

      const whole = await fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEY },
        body: JSON.stringify(REQUEST),
      });
      const message = (await whole.json()) as { content: { text: string }[] };
      expect(textOfEvents(streamed.text)).toBe(message.content[0]!.text);
    } finally {
      await page.close();
    }
  });

  it('streams /streaming_chat as text the page reads as it comes, with its route readable', async () => {
    const page = await pageAt(pageOrigin);
    try {
      const streamed = await postFrom(page, '/streaming_chat', { request: 'Hi from a web page' });
      expect(streamed.status).toBe(200);
      expect(streamed.headers['content-type']).toMatch(/^text\/plain/);
      expect(streamed.headers['sluice-route']).not.toBeNull();
      expect(streamed.reads).toBeGreaterThan(1);
      expect(streamed.text).toContain('Hi from a web page');
    } finally {
      await page.close();
    }
  });

  it('a page on an origin the gateway does not allow cannot call it', async () => {
    const page = await pageAt(foreignOrigin);
    const servedBefore = await messagesServed();
    try {
      const outcome = await postFrom(page, '/v1/messages', REQUEST).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      // Chromium refuses the call at the preflight: the page's fetch fails, and the model never ran.
      expect(outcome).toMatch(/Failed to fetch/);
      expect(await messagesServed()).toBe(servedBefore);
    } finally {
      await page.close();
    }
  });
});

/** The text deltas of an SSE body, joined. */
function textOfEvents(body: string): string {
  let text = '';
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const event = JSON.parse(line.slice('data: '.length)) as { type: string; delta?: { text?: string } };
    if (event.type === 'content_block_delta') text += event.delta?.text ?? '';
  }
  return text;
}

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createTcpServer,
  type Server as TcpServer,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium, startGatewayForPage, startPagesServer } from '../helpers/browser.ts';
import { anthropicText, eventIds } from '../helpers/sse-reader.ts';

const KEY = 'sk-browser-resume-test';

/**
 * A TCP proxy in front of the gateway that cuts its first connection after `cutAfter` bytes
 * from the gateway: a network drop, seen by the browser as the server going away mid-stream.
 */
function cuttingProxy(target: number, cutAfter: number): Promise<{ server: TcpServer; port: number }> {
  let connections = 0;
  const server = createTcpServer((client) => {
    const cut = connections++ === 0;
    const upstream = connect(target, '127.0.0.1');
    let bytes = 0;
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) return void client.write(chunk);
      const room = cutAfter - bytes;
      bytes += chunk.length;
      if (room > 0) client.write(chunk.subarray(0, room));
      if (bytes >= cutAfter) {
        client.destroy();
        upstream.destroy();
      }
    });
    upstream.on('end', () => client.end());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })),
  );
}

describe.skipIf(!existsSync(CHROMIUM))('EventSource in Chromium resuming a durable stream', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-browser-resume-'));
  let pages: Server;
  let pageOrigin: string;
  let gateway: RunningGateway;
  let browser: Browser;
  let proxy: TcpServer | undefined;

  beforeAll(async () => {
    const app = await startPagesServer();
    pages = app.server;
    pageOrigin = app.origin;
    gateway = await startGatewayForPage(scratch, KEY, pageOrigin);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    proxy?.close();
    await gateway?.close();
    await new Promise((resolve) => pages?.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('reconnects by itself after the connection drops, with Last-Event-ID, and gets the answer exactly once', async () => {
    const started = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        model: 'sim:default',
        max_tokens: 200,
        stream: true,
        messages: [{ role: 'user', content: 'Write a long essay on rivers, in detail.' }],
      }),
    });
    const id = started.headers.get('sluice-stream-id')!;
    const token = started.headers.get('sluice-resume-token')!;
    const whole = await started.text();

    const { port: gatewayPort } = new URL(gateway.url);
    const cut = await cuttingProxy(Number(gatewayPort), 2000);
    proxy = cut.server;
    const page = await browser.newPage();
    await page.goto(pageOrigin);
    // No API key in the URL: the resume token alone opens this one stream.
    const url = `http://127.0.0.1:${cut.port}/v1/streams/${id}?token=${token}&after=0`;
    const seen = await page.evaluate(
      (source) =>
        new Promise<{ opens: number; events: { id: string; type: string; data: string }[] }>((resolve) => {
          const events: { id: string; type: string; data: string }[] = [];
          let opens = 0;
          const es = new EventSource(source);
          es.onopen = () => opens++;
          const keep = (event: MessageEvent) =>
            events.push({ id: event.lastEventId, type: event.type, data: event.data });
          for (const type of [
            'message_start',
            'content_block_start',
            'content_block_delta',
            'content_block_stop',
            'message_delta',
            'message_stop',
            'ping',
          ]) {
            es.addEventListener(type, keep);
          }
          // After the end the browser reconnects once more and gets 204, which closes it for good.
          es.onerror = () => {
            if (es.readyState === EventSource.CLOSED) resolve({ opens, events });
          };
        }),
      url,
    );
    expect(seen.opens).toBeGreaterThanOrEqual(2);
    const ids = seen.events.map((event) => Number(event.id));
    expect(ids).toEqual(eventIds(whole));
    const asSse = seen.events
      .map((event) => `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`)
      .join('');
    expect(anthropicText(asSse)).toBe(anthropicText(whole));
    expect(asSse).toBe(whole);
  }, 30_000);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';

/** A `sluice serve` gateway on port 0, on the simulated model paced like a real one. */
export async function startChatGateway(
  options: {
    apiKeys?: string[];
    tokensPerSecond?: number;
    /** Other parts of the configuration file (providers, defaultModel, routes). */
    config?: Record<string, unknown>;
    /** The environment the gateway reads provider keys from. */
    env?: Record<string, string>;
  } = {},
): Promise<RunningGateway> {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-web-'));
  const path = join(scratch, 'sluice.config.json');
  writeFileSync(
    path,
    JSON.stringify({
      providers: {
        sim: { type: 'sim', pacing: { ttftMs: 20, tokensPerSecond: options.tokensPerSecond ?? 150 } },
      },
      server: { apiKeys: options.apiKeys ?? [], logLevel: 'silent' },
      ...options.config,
    }),
  );
  try {
    const { config } = loadConfig({ env: options.env ?? {}, path, overrides: { port: 0 } });
    return await startGateway(config, { env: options.env ?? {} });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The value of one series of the gateway's `/metrics` (0 when absent), matched on the labels given. */
export async function metric(
  gatewayUrl: string,
  name: string,
  labels: Record<string, string> = {},
  key?: string,
): Promise<number> {
  const response = await fetch(`${gatewayUrl}/metrics`, { headers: key ? { 'x-api-key': key } : {} });
  const text = await response.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`));
    if (matches) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The text of the non-streaming answer to one user message, as the page asks for it. */
export async function referenceAnswer(
  gatewayUrl: string,
  message: string,
  maxTokens = 1024,
  key?: string,
): Promise<string> {
  const response = await fetch(`${gatewayUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({
      model: 'sim:default',
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: message }],
    }),
  });
  const body = (await response.json()) as { content: { type: string; text?: string }[] };
  return body.content.map((block) => block.text ?? '').join('');
}

interface SavedTurn {
  role: string;
  state?: string;
  answer?: { blocks: { type: string; text?: string }[]; usage: Record<string, number> };
}

/** The page's own record of its last answer (local storage): its state, text and usage. */
export async function lastAnswer(
  page: Page,
): Promise<{ state: string; text: string; usage: Record<string, number> }> {
  const saved = await page.evaluate(() => localStorage.getItem('sluice.chat.conversation'));
  const turns = (JSON.parse(saved ?? '{"turns":[]}') as { turns: SavedTurn[] }).turns;
  const last = turns.at(-1);
  if (last?.role !== 'assistant') return { state: 'none', text: '', usage: {} };
  const text = last.answer!.blocks.map((block) => (block.type === 'text' ? (block.text ?? '') : '')).join('');
  return { state: last.state!, text, usage: last.answer!.usage };
}

/** Whitespace collapsed: how rendered markdown's text compares with the raw text. */
export function words(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * A TCP proxy in front of the gateway that the test controls: `cut()` destroys every
 * connection through it (a network drop: a response already streaming ends at once, which
 * `setOffline` does not do), and while `offline` it refuses new ones.
 */
export async function startProxy(targetPort: number): Promise<{
  port: number;
  cut(): void;
  setOffline(offline: boolean): void;
  refused: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let offline = false;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (offline) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    setOffline(value) {
      offline = value;
    },
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What an element shows, as a reader sees it (rendered line breaks included, markup not). */
export function shownText(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is compared, not the nodes' text.
  return locator.evaluate((element) => (element as HTMLElement).innerText);
}

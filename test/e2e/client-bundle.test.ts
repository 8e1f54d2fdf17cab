import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/server/start.ts';
import { CHROMIUM, launchChromium, startGatewayForPage, startPagesServer } from '../helpers/browser.ts';
import { repoRoot } from '../helpers/cli.ts';

const KEY = 'sk-bundle-test';

// What a web app writes: the client from `sluice` and `sluice/providers`, a zod tool, and a
// streamed tool loop against a Sluice gateway on another origin.
const APP = `
import { Chat, Client, tool } from './src/index.ts';
import { createAnthropicProvider, ProviderRegistry } from './src/entry/providers.ts';
import { z } from 'zod';

globalThis.runToolLoop = async (gatewayUrl, apiKey) => {
  const provider = createAnthropicProvider({ apiKey, baseURL: gatewayUrl });
  const client = new Client('gateway:sim:default', { registry: new ProviderRegistry({ providers: { gateway: provider } }) });
  const calls = [];
  const sums = tool({
    name: 'sums',
    description: 'Adds a + b.',
    input: z.object({ a: z.number().int(), b: z.number().int() }),
    run: ({ a, b }) => { calls.push({ a, b }); return a + b; },
  });
  const chat = new Chat({ client, system: 'Always use tools for calculations.', tools: [sums] });
  const steps = [];
  for await (const step of chat.streamToolLoop('What is 604542+6458932?')) {
    const deltas = [];
    for await (const text of step.stream.textStream) deltas.push(text);
    const { message } = await step.result();
    steps.push({ deltas, stopReason: message.stop_reason });
  }
  return { steps, calls, usage: chat.usage.calls };
};
`;

/**
 * What a bundler does with the package's \`browser\` field: Node's HTTP transport, which the
 * providers load only on Node, is left out of a browser build.
 */
const withoutNodeTransport: Plugin = {
  name: 'without-node-transport',
  setup(plugin) {
    plugin.onResolve({ filter: /\/node-http\.ts$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
    plugin.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

describe.skipIf(!existsSync(CHROMIUM))('the client bundled for a browser (esbuild, Chromium)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bundle-test-'));
  let pages: Server;
  let pageOrigin: string;
  let gateway: RunningGateway;
  let browser: Browser;
  let bundle: string;

  beforeAll(async () => {
    const app = await startPagesServer();
    pages = app.server;
    pageOrigin = app.origin;
    gateway = await startGatewayForPage(scratch, KEY, pageOrigin);
    browser = await launchChromium();
    const result = await build({
      stdin: { contents: APP, resolveDir: repoRoot, sourcefile: 'app.ts', loader: 'ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      // Reached only by dynamic imports that run on Node (image(path) reading a file).
      external: ['node:*'],
      plugins: [withoutNodeTransport],
      logLevel: 'silent',
    });
    bundle = result.outputFiles[0]!.text;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await new Promise((resolve) => pages?.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('loads nothing of Node and runs a streamed tool loop against the gateway across origins', async () => {
    // No static import of a Node built-in: the page would fail to load the module.
    expect(bundle).not.toMatch(/^import[^;]*from\s*"node:/m);
    expect(bundle).not.toContain('@modelcontextprotocol');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pageOrigin);
    await page.addScriptTag({ content: bundle, type: 'module' });
    await page.waitForFunction(() => 'runToolLoop' in globalThis);
    const result = await page.evaluate(
      ({ url, key }) =>
        (
          globalThis as unknown as { runToolLoop: (url: string, key: string) => Promise<unknown> }
        ).runToolLoop(url, key),
      { url: gateway.url, key: KEY },
    );
    expect(errors).toEqual([]);
    const { steps, calls, usage } = result as {
      steps: Array<{ deltas: string[]; stopReason: string }>;
      calls: unknown[];
      usage: number;
    };
    expect(calls).toEqual([{ a: 604542, b: 6458932 }]);
    expect(steps.map((step) => step.stopReason)).toEqual(['tool_use', 'end_turn']);
    const answer = steps[1]!.deltas;
    // Streamed: the answer came in many deltas, read as they arrived.
    expect(answer.length).toBeGreaterThan(3);
    expect(answer.join('')).toContain('7063474');
    expect(usage).toBe(2);
    expect(page.url().startsWith(pageOrigin)).toBe(true);
    expect(new URL(gateway.url).origin).not.toBe(pageOrigin);
  });
});

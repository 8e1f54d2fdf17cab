import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';

/** Debian's chromium, which .ci/run installs; without it the browser tests are skipped. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium as the project's browser tests run it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** The web app's own origin: a server of empty pages on 127.0.0.1. */
export async function startPagesServer(): Promise<{ server: Server; port: number; origin: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, port, origin: `http://127.0.0.1:${port}` };
}

/**
 * A gateway with one API key that lets `pageOrigin` call it, in front of the simulated model,
 * paced so that an answer arrives over several reads, as from a real model.
 */
export async function startGatewayForPage(
  scratch: string,
  key: string,
  pageOrigin: string,
): Promise<RunningGateway> {
  const path = join(scratch, 'sluice.config.json');
  writeFileSync(
    path,
    JSON.stringify({
      providers: { sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 200 } } },
      server: { apiKeys: [key], corsOrigins: [pageOrigin] },
    }),
  );
  const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
  return startGateway(config, { env: {}, telemetry: undefined });
}

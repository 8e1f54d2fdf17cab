import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';
import { NO_TELEMETRY } from '../../src/server/telemetry.ts';
import { rawExchange } from '../helpers/raw-http.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-host-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function start(server: Record<string, unknown>): Promise<RunningGateway> {
  const path = join(scratch, 'config.json');
  writeFileSync(path, JSON.stringify({ server }));
  const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
  return startGateway(config, { env: {}, telemetry: NO_TELEMETRY });
}

/** GET /v1/models with the given Host header, on a connection of its own. */
const withHost = (url: string, host: string) =>
  rawExchange(url, `GET /v1/models HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);

describe('on loopback without keys (DNS rebinding)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start({ allowedHosts: ['gateway.test'] });
  });
  afterAll(() => gateway.close());

  it('refuses any other Host with a 403 that says why and what to do', async () => {
    for (const host of ['evil.example', 'evil.example:8787', '127.0.0.1.evil.example', 'localhost.evil']) {
      const result = await withHost(gateway.url, host);
      expect(result.status).toBe(403);
      const body = JSON.parse(result.body) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('permission_error');
      expect(body.error.message).toMatch(/DNS rebinding/);
      expect(body.error.message).toMatch(/server\.allowedHosts/);
    }
  });

  it('answers localhost, 127.0.0.1 and [::1] with any port, and the configured names', async () => {
    for (const host of [
      'localhost',
      'LOCALHOST:8787',
      '127.0.0.1:1',
      '[::1]:8787',
      '[::1]',
      'gateway.test:80',
    ]) {
      expect((await withHost(gateway.url, host)).status, host).toBe(200);
    }
  });

  it('a request with no Host at all is refused too', async () => {
    const result = await rawExchange(gateway.url, 'GET /v1/models HTTP/1.0\r\n\r\n');
    expect(result.status).toBe(403);
  });
});

describe('with keys, the key is the protection', () => {
  it('any Host is served to a caller with the key', async () => {
    const gateway = await start({ apiKeys: ['sk-host-test'] });
    try {
      const result = await rawExchange(
        gateway.url,
        'GET /v1/models HTTP/1.1\r\nhost: gateway.example.com\r\nx-api-key: sk-host-test\r\nconnection: close\r\n\r\n',
      );
      expect(result.status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});

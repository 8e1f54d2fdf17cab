import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { startGateway } from '../../src/server/start.ts';
import { NO_TELEMETRY } from '../../src/server/telemetry.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-cors-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const ORIGIN = 'https://app.example.com';
const KEY = 'sk-cors-test';

// The API routes live in an encapsulated plugin registered before CORS: CORS must reach them all the same.
describe('CORS on the API routes', () => {
  it('a preflight and a refused request carry the CORS headers (and request-id is readable)', async () => {
    const path = join(scratch, 'config.json');
    writeFileSync(path, JSON.stringify({ server: { apiKeys: [KEY], corsOrigins: [ORIGIN] } }));
    const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
    const gateway = await startGateway(config, { env: {}, telemetry: NO_TELEMETRY });
    try {
      for (const route of ['/v1/messages', '/v1/chat/completions', '/streaming_chat']) {
        const preflight = await fetch(`${gateway.url}${route}`, {
          method: 'OPTIONS',
          headers: {
            origin: ORIGIN,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type, x-api-key',
          },
        });
        expect(preflight.status, route).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
        const refused = await fetch(`${gateway.url}${route}`, {
          method: 'POST',
          headers: { origin: ORIGIN, 'content-type': 'application/json' },
          body: '{}',
        });
        expect(refused.status).toBe(401);
        expect(refused.headers.get('access-control-allow-origin')).toBe(ORIGIN);
        expect(refused.headers.get('access-control-expose-headers')).toMatch(/request-id/);
      }
    } finally {
      await gateway.close();
    }
  });
});

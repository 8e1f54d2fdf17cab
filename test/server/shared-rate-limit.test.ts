import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from './streams/redis-service.ts';

const KEY = 'sk-shared-limit-test';

/** Two gateways on one Redis stream log, as two instances behind a load balancer. */
describe('the per-key rate limit with the stream log in Redis', () => {
  const prefix = uniquePrefix('shared-rate');
  const gateways: RunningGateway[] = [];
  let available = false;

  beforeAll(async () => {
    available = await redisForTests();
    if (!available) return;
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-shared-rate-')), 'sluice.config.json');
    writeFileSync(
      path,
      JSON.stringify({
        server: { apiKeys: [KEY], rateLimit: { requestsPerMinute: 2, burst: 2 } },
        streams: { store: REDIS_URL, keyPrefix: prefix },
      }),
    );
    for (let i = 0; i < 2; i++) {
      const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
      gateways.push(await startGateway(config, { env: {}, telemetry: undefined }));
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close(0)));
    if (available) await deleteKeys(prefix);
  });

  it('is one limit across instances: a key spends one bucket whichever instance it reaches', async (context) => {
    if (!available) return context.skip();
    const statuses: number[] = [];
    // Alternating: with a bucket each, all four would pass (two per instance).
    for (const gateway of [gateways[0]!, gateways[1]!, gateways[0]!, gateways[1]!]) {
      const response = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': KEY } });
      statuses.push(response.status);
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
  });
});

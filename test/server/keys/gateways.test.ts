import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRequestTokens } from '../../../src/providers/simulated/request-tokens.ts';
import { runSluice } from '../../helpers/cli.ts';
import { type ServeProcess, serveProcess } from '../../helpers/serve-process.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from '../streams/redis-service.ts';
import { postgresForTest, postgresForTests, type TestDatabase } from './databases.ts';

const PRICE = { input: 3, output: 7 };
const REQUEST = {
  model: 'sim:default',
  max_tokens: 16,
  messages: [{ role: 'user' as const, content: 'Tell me about the sea.' }],
};
const CALL_MICROS = countRequestTokens(REQUEST) * PRICE.input + REQUEST.max_tokens * PRICE.output;

// Two `sluice serve` processes on one PostgreSQL (and one Redis for the stream log and the rate limits).
describe('two gateway processes on one PostgreSQL', () => {
  let available = false;
  let database: TestDatabase;
  let gateways: ServeProcess[] = [];
  let env: Record<string, string>;
  let folder: string;
  let prefix: string;

  beforeAll(async () => {
    available = (await postgresForTests()) && (await redisForTests());
    if (!available) return;
    database = postgresForTest();
    prefix = uniquePrefix('keys');
    folder = mkdtempSync(join(tmpdir(), 'sluice-gateways-'));
    const config = join(folder, 'sluice.config.json');
    writeFileSync(
      config,
      JSON.stringify({ prices: { 'sim:default': PRICE }, streams: { store: REDIS_URL, keyPrefix: prefix } }),
    );
    env = { SLUICE_DATABASE_URL: database.url, SLUICE_CONFIG: config };
    gateways = await Promise.all([serveProcess([], env), serveProcess([], env)]);
  });
  afterAll(async () => {
    if (!available) return;
    for (const gateway of gateways) gateway.child.kill('SIGTERM');
    await Promise.all(gateways.map((gateway) => gateway.exited));
    await database.drop();
    await deleteKeys(prefix);
    rmSync(folder, { recursive: true, force: true });
  });

  async function createKey(...args: string[]): Promise<{ key: string; id: string }> {
    const run = await runSluice(['keys', 'create', ...args], { env });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    return { key: lines.at(-1)!, id: /\((key_[0-9a-f]+)\)/.exec(lines[0]!)![1]! };
  }

  const post = (index: number, key: string) =>
    fetch(`${gateways[index % 2]!.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(REQUEST),
    });

  it('share one budget: 30 calls over both against a budget for 10 let exactly 10 through', async (context) => {
    if (!available) return context.skip();
    const { key } = await createKey(
      '--name',
      'shared',
      '--budget-usd',
      String((10 * CALL_MICROS) / 1e6),
      '--period',
      'total',
    );
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, index) => post(index, key).then((r) => r.status)),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 403)).toHaveLength(20);
    const usage = await runSluice(['usage', '--key', 'shared', '--json'], { env });
    expect(JSON.parse(usage.stdout)).toEqual([
      expect.objectContaining({
        group: 'sim:default',
        calls: 10,
        refused: 20,
        outputTokens: 160,
        costUsd: (10 * CALL_MICROS) / 1e6,
      }),
    ]);
  });

  it("share one rate limit per key: a key's rpm holds across both", async (context) => {
    if (!available) return context.skip();
    const { key } = await createKey('--name', 'slow', '--rpm', '4');
    const statuses: number[] = [];
    for (let index = 0; index < 8; index++) statuses.push((await post(index, key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  });

  it('refuse a key revoked with `sluice keys revoke` on both at once, and never log a key', async (context) => {
    if (!available) return context.skip();
    const { key, id } = await createKey('--name', 'revoked');
    expect((await post(0, key)).status).toBe(200);
    expect((await post(1, key)).status).toBe(200);
    const revoke = await runSluice(['keys', 'revoke', id], { env });
    expect(revoke.stdout).toBe(`Revoked ${id}.\n`);
    expect((await post(0, key)).status).toBe(401);
    expect((await post(1, key)).status).toBe(401);
    for (const gateway of gateways) {
      expect(gateway.stdout()).toContain('"msg":"request"');
      expect(gateway.stdout() + gateway.stderr()).not.toContain(key);
    }
  });
});

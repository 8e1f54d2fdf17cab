import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSluice } from '../helpers/cli.ts';
import { isAlive } from '../helpers/processes.ts';
import {
  postOnNewConnection,
  requestLogLines,
  type ServeProcess,
  serveProcess,
  streamThroughShutdown,
} from '../helpers/serve-process.ts';
import { deleteKeys, REDIS_URL, redisForTests, uniquePrefix } from './streams/redis-service.ts';

const MESSAGE = { model: 'sim:default', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] };

// Workers share their stream log through Redis (with the memory store they refuse to start).
let sharedStore: Record<string, string> = {};
const prefix = uniquePrefix('serve-workers');
const configDir = mkdtempSync(join(tmpdir(), 'sluice-workers-'));
beforeAll(async () => {
  await redisForTests();
  const config = join(configDir, 'sluice.json');
  writeFileSync(config, JSON.stringify({ streams: { store: REDIS_URL, keyPrefix: prefix } }));
  sharedStore = { SLUICE_CONFIG: config };
});
afterAll(async () => {
  await deleteKeys(prefix);
  rmSync(configDir, { recursive: true, force: true });
});

/** Runs `body` against `sluice serve --workers 2`, and always stops the whole cluster after. */
async function withCluster(env: Record<string, string>, body: (served: ServeProcess) => Promise<void>) {
  const served = await serveProcess(['--workers', '2'], { SLUICE_SIM_TPS: '0', ...sharedStore, ...env });
  try {
    await body(served);
  } finally {
    // SIGKILL of the primary leaves no worker behind: a worker exits when its channel closes.
    served.child.kill('SIGKILL');
  }
}

const workerPids = (served: ServeProcess) =>
  new Set(requestLogLines(served.stdout()).map((line) => line.pid));

describe('sluice serve --workers', () => {
  it('serves one port from several processes and answers /metrics for all of them', async () => {
    await withCluster({}, async (served) => {
      expect(served.stdout()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(2 workers, /);
      for (let i = 0; i < 6; i++) {
        expect((await postOnNewConnection(served.url, '/v1/messages', MESSAGE)).status).toBe(200);
      }
      expect(workerPids(served).size).toBe(2);
      expect(workerPids(served).has(served.child.pid!)).toBe(false);
      const metrics = await (await fetch(`${served.url}/metrics`)).text();
      expect(metrics).toMatch(
        /^sluice_requests_total\{route="\/v1\/messages",model="sim:default",status="200"\} 6$/m,
      );
      expect(metrics).toMatch(/^sluice_tokens_total\{model="sim:default",direction="output"\} 30$/m);
    });
  });

  it('keeps one rate limit per key across the workers', async () => {
    await withCluster({ SLUICE_RATE_LIMIT_RPM: '2' }, async (served) => {
      const responses = [];
      for (let i = 0; i < 3; i++)
        responses.push(await postOnNewConnection(served.url, '/v1/messages', MESSAGE));
      expect(responses.map((response) => response.status)).toEqual([200, 200, 429]);
      expect(Number(responses[2]!.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(responses[2]!.body)).toMatchObject({ error: { type: 'rate_limit_error' } });
      // The two requests let in were served by two different processes.
      expect(workerPids(served).size).toBe(2);
    });
  });

  it('replaces a worker that dies; the others serve in the meantime', async () => {
    await withCluster({}, async (served) => {
      await postOnNewConnection(served.url, '/v1/messages', MESSAGE);
      await postOnNewConnection(served.url, '/v1/messages', MESSAGE);
      const [victim, survivor] = [...workerPids(served)];
      process.kill(victim!, 'SIGKILL');
      await served.stderrMatch(new RegExp(`worker ${victim} exited \\(signal SIGKILL\\); starting another`));
      expect((await postOnNewConnection(served.url, '/v1/messages', MESSAGE)).status).toBe(200);
      // A scrape meanwhile sums the workers alive: the survivor's two requests, not the dead one's.
      const metrics = await fetch(`${served.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(
        /^sluice_requests_total\{route="\/v1\/messages",model="sim:default",status="200"\} 2$/m,
      );

      const [, replacement] = await served.stderrMatch(/worker (\d+) is listening in place of \d+/);
      for (let i = 0; i < 4; i++) {
        expect((await postOnNewConnection(served.url, '/v1/messages', MESSAGE)).status).toBe(200);
      }
      expect(workerPids(served)).toEqual(new Set([victim, survivor, Number(replacement)]));
    });
  });

  it('SIGTERM: each worker finishes its stream in flight, then every process exits', async () => {
    await withCluster({ SLUICE_SIM_TPS: '100' }, async (served) => {
      await postOnNewConnection(served.url, '/v1/messages', MESSAGE);
      await postOnNewConnection(served.url, '/v1/messages', MESSAGE);
      const workers = [...workerPids(served)];
      expect(workers).toHaveLength(2);
      const request = { max_tokens: 40, content: 'Hi' };
      let stopped: Promise<void> | undefined;
      const stopOnce = async () => {
        stopped ??= Promise.resolve().then(() => {
          served.child.kill('SIGTERM');
        });
        await stopped;
      };
      // Two streams at once: one on each worker, both open when the signal lands.
      const bodies = await Promise.all([
        streamThroughShutdown(served.url, request, async () => {}),
        streamThroughShutdown(served.url, request, stopOnce),
      ]);
      for (const body of bodies) expect(body).toContain('event: message_stop');
      expect(await served.exited).toBe(0);
      const streamedBy = requestLogLines(served.stdout())
        .slice(-2)
        .map((line) => line.pid);
      expect(new Set(streamedBy)).toEqual(new Set(workers));
      expect(served.stderr()).toMatch(/SIGTERM: finishing streams in flight/);
      expect(workers.filter(isAlive)).toEqual([]);
    });
  });

  it('a worker that cannot start stops the cluster, with its reason', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const run = await runSluice(['serve', '--workers', '2', '--port', String(port)], { env: sharedStore });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`EADDRINUSE 127\\.0\\.0\\.1:${port}`));
      expect(run.stderr).toMatch(/sluice: worker \d+ exited \(code 1\) before it was listening/);
    } finally {
      taken.close();
    }
  });

  it('refuses a non-loopback host without API keys once, before starting any worker', async () => {
    const run = await runSluice(['serve', '--workers', '2', '--host', '0.0.0.0', '--port', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr.match(/without API keys/g)).toHaveLength(1);
    expect(run.stderr).not.toMatch(/worker \d+/);
  });

  it('refuses the memory stream store, asking for a shared one, before starting any worker', async () => {
    const run = await runSluice(['serve', '--workers', '2', '--port', '0', '--stream-store', 'memory']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--workers 2 needs a stream store the workers share/);
    expect(run.stderr).toMatch(/redis:\/\/host:port\/db/);
    expect(run.stderr).not.toMatch(/worker \d+/);
  });

  it('refuses a number of workers out of range before starting any', async () => {
    const run = await runSluice(['serve', '--workers', '0', '--port', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--workers: expected an integer from 1 to 64, got '0'/);
  });
});

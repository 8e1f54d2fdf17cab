import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { startGateway } from '../../src/server/start.ts';
import { runSluice } from '../helpers/cli.ts';
import {
  refusedWithin,
  requestLogLines,
  serveProcess,
  streamThroughShutdown,
} from '../helpers/serve-process.ts';
import { listenBacklogOf } from '../helpers/sockets.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-serve-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configFile(name: string, content: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('startGateway', () => {
  it('serves the configured gateway: SDK calls, health and Prometheus metrics', async () => {
    const { config } = loadConfig({
      env: {},
      path: configFile('ok.json', {
        aliases: { fast: 'sim:default' },
        providers: { sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 0 } } },
      }),
      overrides: { port: 0 },
    });
    const gateway = await startGateway(config, { env: {}, telemetry: undefined });
    try {
      const message = await new Anthropic({
        baseURL: gateway.url,
        apiKey: 'unused',
        maxRetries: 0,
      }).messages.create({
        model: 'fast',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      expect(message.stop_reason).toBe('max_tokens');
      expect(await (await fetch(`${gateway.url}/healthz`)).json()).toEqual({ ok: true });
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(
        /^sluice_requests_total\{route="\/v1\/messages",model="sim:default",status="200"\} 1$/m,
      );
      expect(metrics).toMatch(/^sluice_tokens_total\{model="sim:default",direction="output"\} 20$/m);
    } finally {
      await gateway.close();
    }
  });

  it('listens with the configured backlog, as the kernel reports it (capped at somaxconn)', async () => {
    const { config } = loadConfig({
      env: {},
      path: configFile('backlog.json', { server: { listenBacklog: 100 } }),
      overrides: { port: 0 },
    });
    const gateway = await startGateway(config, { env: {}, telemetry: undefined });
    try {
      expect(listenBacklogOf(gateway.url)).toBe(100);
    } finally {
      await gateway.close();
    }
  });
});

describe('sluice serve', () => {
  it('a bad configuration file fails at start, naming the field and what was expected', async () => {
    const path = configFile('bad.json', { server: { port: 'eighty' } });
    const run = await runSluice(['serve', '--config', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/server\.port: expected number/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a non-loopback host without API keys unless --insecure', async () => {
    const run = await runSluice(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/without API keys.*SLUICE_API_KEYS.*--insecure/);
  });

  it('logs a JSON line per request on stdout; SLUICE_LOG_LEVEL=warn keeps only failures', async () => {
    const requestLines = async (env: Record<string, string>) => {
      const { child, url, exited, stdout } = await serveProcess([], { SLUICE_SIM_TPS: '0', ...env });
      try {
        const ask = (model: string) =>
          fetch(`${url}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
          });
        expect((await ask('sim:default')).status).toBe(200);
        expect((await ask('nobody:none')).status).toBe(404);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      return requestLogLines(stdout()).map((line) => line.status);
    };
    expect(await requestLines({})).toEqual([200, 404]);
    expect(await requestLines({ SLUICE_LOG_LEVEL: 'warn' })).toEqual([404]);
  });

  it('SIGTERM: stops accepting, lets the stream in flight finish, then exits', async () => {
    const { child, url, exited } = await serveProcess([], { SLUICE_SIM_TPS: '100' });
    try {
      const body = await streamThroughShutdown(url, { max_tokens: 60, content: 'Hi' }, async () => {
        child.kill('SIGTERM');
        // The listener goes at once: a fresh connection is refused (a few tries while the signal lands).
        expect(await refusedWithin(url, 200)).toBe(true);
      });
      expect(body).toContain('event: message_stop');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('SIGTERM with a short grace period: the stream ends with a retryable error event', async () => {
    const path = configFile('grace.json', { server: { shutdownGraceMs: 50 } });
    const { child, url, exited } = await serveProcess(['--config', path], { SLUICE_SIM_TPS: '20' });
    try {
      const body = await streamThroughShutdown(
        url,
        { max_tokens: 500, content: 'Write a long essay on rivers, in detail.' },
        async () => {
          child.kill('SIGTERM');
        },
      );
      expect(body).toMatch(/event: error\n.*"type":"overloaded_error".*shutting down/);
      expect(body).not.toContain('event: message_stop');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('with --host 0.0.0.0 the banner says the address bound, and each interface it is reachable at', async () => {
    const { child, url, exited, stdout } = await serveProcess(['--host', '0.0.0.0', '--insecure'], {});
    try {
      const { port } = new URL(url);
      expect(url).toBe(`http://0.0.0.0:${port}`);
      const reachable = /\(reachable at ([^)]+)\)/.exec(stdout())?.[1]?.split(', ') ?? [];
      expect(reachable).toContain(`http://127.0.0.1:${port}`);
      for (const address of Object.values(networkInterfaces()).flat()) {
        if (address?.family === 'IPv4') expect(reachable).toContain(`http://${address.address}:${port}`);
      }
      // Every address it names answers.
      for (const where of reachable) expect((await fetch(`${where}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

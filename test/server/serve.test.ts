import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { startGateway } from '../../src/server/start.ts';
import { BASE_ENV, cliMain, repoRoot, runSluice } from '../helpers/cli.ts';
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
      return stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; status: number })
        .filter((line) => line.msg === 'request')
        .map((line) => line.status);
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
});

/** Tries fresh TCP connections (no keep-alive reuse) until one is refused, at most `attempts` times. */
async function refusedWithin(url: string, attempts: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  for (let i = 0; i < attempts; i++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), hostname);
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return true;
  }
  return false;
}

/** `sluice serve --port 0 …` as a child process, once it has said where it listens. */
async function serveProcess(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [cliMain, 'serve', '--port', '0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...BASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let output = '';
  const url = await new Promise<string>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
  });
  return { child, url, exited, stdout: () => output };
}

/** Starts a stream, runs `shutdown` once its first bytes are in, and returns everything it sent. */
async function streamThroughShutdown(
  url: string,
  request: { max_tokens: number; content: string },
  shutdown: () => Promise<void>,
): Promise<string> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'sim:default',
      max_tokens: request.max_tokens,
      stream: true,
      messages: [{ role: 'user', content: request.content }],
    }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let body = decoder.decode((await reader.read()).value, { stream: true });
  await shutdown();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
  }
  return body + decoder.decode();
}

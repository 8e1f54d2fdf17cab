import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { BASE_ENV, cliMain, repoRoot } from './cli.ts';

export interface ServeProcess {
  child: ReturnType<typeof spawn>;
  url: string;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr, once it has been written. */
  stderrMatch(pattern: RegExp): Promise<RegExpExecArray>;
}

/** `sluice serve --port 0 …` as a child process, once it has said where it listens. */
export async function serveProcess(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliMain, 'serve', '--port', '0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...BASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let output = '';
  let errors = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    errors += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', () => reject(new Error(`sluice serve exited before listening: ${errors}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
  });
  const stderrMatch = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve) => {
      const check = () => {
        const match = pattern.exec(errors);
        if (!match) return;
        child.stderr.off('data', check);
        resolve(match);
      };
      child.stderr.on('data', check);
      check();
    });
  return { child, url, exited, stdout: () => output, stderr: () => errors, stderrMatch };
}

/** The request lines a gateway process logged on stdout. */
export function requestLogLines(stdout: string): { msg: string; status: number; pid: number }[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; status: number; pid: number })
    .filter((line) => line.msg === 'request');
}

/**
 * POSTs a JSON body over a connection of its own (no keep-alive pool), so that each request
 * is a new connection for the gateway to hand to a process.
 */
export function postOnNewConnection(
  url: string,
  path: string,
  body: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      new URL(path, url),
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
        );
        response.once('error', reject);
      },
    );
    outgoing.once('error', reject);
    outgoing.end(JSON.stringify(body));
  });
}

/** Tries fresh TCP connections (no keep-alive reuse) until one is refused, at most `attempts` times. */
export async function refusedWithin(url: string, attempts: number): Promise<boolean> {
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

/** Starts a stream, runs `shutdown` once its first bytes are in, and returns everything it sent. */
export async function streamThroughShutdown(
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

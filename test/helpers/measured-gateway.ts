import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * A gateway in a process of its own whose memory a test can measure after a full garbage
 * collection: what is measured is then what the gateway holds, not garbage a collection has
 * not reached yet, nor the test's own HTTP client.
 */

const childMain = fileURLToPath(new URL('./measured-gateway-child.ts', import.meta.url));

export interface MeasuredGateway {
  url: string;
  /** Memory after two full collections in the gateway process. */
  memory(): Promise<{ heapUsed: number; external: number; rss: number }>;
  stop(): Promise<void>;
}

export async function startMeasuredGateway(
  configPath: string,
  env: Record<string, string>,
): Promise<MeasuredGateway> {
  const child = fork(childMain, [configPath], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (message) => resolve(message as T));
      child.once('exit', (code) => reject(new Error(`the gateway process exited (${code})`)));
    });
  const { url } = await next<{ url: string }>();
  return {
    url,
    memory() {
      const answer = next<{ heapUsed: number; external: number; rss: number }>();
      child.send('measure');
      return answer;
    },
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

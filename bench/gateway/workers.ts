/**
 * The bench's two Node children, the upstream simulator and the load generator, and the IPC
 * that drives them. Each is its own process so that the CPU a gateway uses is all the CPU its
 * process shows.
 */
import { forkTracked, type Tracked } from './children.ts';
import type { LoadOptions, LoadResult } from './load.ts';
import type { LoadReply, LoadRequest } from './load-child.ts';

export interface Upstream {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: Tracked;
}

export async function startUpstream(pacing: { ttftMs: number; tokensPerSecond: number }): Promise<Upstream> {
  const child = forkTracked('the upstream simulator', new URL('./upstream.ts', import.meta.url), [
    String(pacing.ttftMs),
    String(pacing.tokensPerSecond),
  ]);
  const { url } = await firstMessage<{ url: string }>(child);
  return { url, port: Number(new URL(url).port), process: child };
}

export interface LoadGenerator {
  run(options: LoadOptions): Promise<LoadResult>;
  process: Tracked;
}

export async function startLoadGenerator(): Promise<LoadGenerator> {
  const child = forkTracked('the load generator', new URL('./load-child.ts', import.meta.url));
  await firstMessage(child);
  let next = 0;
  const pending = new Map<
    number,
    { resolve: (result: LoadResult) => void; reject: (error: Error) => void }
  >();
  child.child.on('message', (reply: LoadReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(`load generator: ${reply.error}`));
    else waiter?.resolve(reply.result);
  });
  void child.exited.then((code) => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`the load generator exited (${code}):\n${child.output().slice(-2000)}`));
    }
  });
  return {
    process: child,
    run(options) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.child.send({ id, options } satisfies LoadRequest);
      });
    },
  };
}

function firstMessage<T>(child: Tracked): Promise<T> {
  return new Promise((resolve, reject) => {
    child.child.once('message', (message: T) => resolve(message));
    void child.exited.then((code) =>
      reject(
        new Error(`${child.name} exited (${code}) before it was ready:\n${child.output().slice(-2000)}`),
      ),
    );
  });
}

import cluster, { type Worker } from 'node:cluster';
import { RateLimitError } from '../../protocol/errors.ts';
import { RateLimiter } from '../rate-limit.ts';
import { isWorkerMessage, type PrimaryReply, type WorkerAsk } from './messages.ts';
import { MetricsCollector } from './metrics-collector.ts';

export interface ClusterOptions {
  /** How many worker processes serve the port. */
  workers: number;
  /** The one rate limit all workers share (0 requests a minute: none). */
  rateLimit: { requestsPerMinute: number; burst?: number };
  /** Where lines for the operator go: a worker that died, and its replacement. */
  report: (line: string) => void;
}

export interface RunningCluster {
  /** Where the workers listen (one port, shared). */
  url: string;
  /** Graceful shutdown: each worker stops accepting and finishes its streams (SIGTERM), then exits. */
  close(): Promise<void>;
}

// The pause before a worker that died is replaced: one that dies at once cannot spin the CPU.
const RESTART_DELAY_MS = 1000;

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * Runs the gateway as a cluster (node:cluster): this process forks workers that re-run the
 * same command line and serve the one port, while it keeps what must be one for all of them
 * (the rate limit's buckets, the metrics summed) and replaces a worker that dies.
 */
export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const limiter = new RateLimiter(options.rateLimit.requestsPerMinute, { burst: options.rateLimit.burst });
  const collector = new MetricsCollector();
  const workers = new Set<Worker>();
  const listening = new Set<Worker>();
  let stopping = false;
  const pendingRestarts = new Set<NodeJS.Timeout>();

  const reply = (worker: Worker, message: PrimaryReply) => {
    if (worker.isConnected()) worker.send(message);
  };

  const answer = (worker: Worker, ask: WorkerAsk) => {
    if (ask.sluice === 'rate-limit') {
      try {
        limiter.take(ask.caller);
        reply(worker, { sluice: 'reply', id: ask.id });
      } catch (error) {
        if (!(error instanceof RateLimitError)) throw error;
        const refused = {
          type: 'rate_limit_error' as const,
          message: error.message,
          retryAfterMs: error.retryAfterMs,
        };
        reply(worker, { sluice: 'reply', id: ask.id, refused });
      }
      return;
    }
    collector.collect(listening).then(
      (metrics) => reply(worker, { sluice: 'reply', id: ask.id, metrics }),
      (error: Error) =>
        reply(worker, {
          sluice: 'reply',
          id: ask.id,
          refused: {
            type: 'api_error',
            message: `The workers' metrics could not be gathered: ${error.message}`,
          },
        }),
    );
  };

  const replaceLater = (deadPid: number | undefined) => {
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer);
      fork().then(
        (started) => options.report(`worker ${started.pid} is listening in place of ${deadPid}`),
        // One stopped by a shutdown while it was starting is no failure to report.
        (error: Error) => stopping || options.report(`a replacement worker did not start: ${error.message}`),
      );
    }, RESTART_DELAY_MS);
    pendingRestarts.add(timer);
  };

  /** Resolves once the worker listens; rejects if it exits before. */
  const fork = (): Promise<{ url: string; pid: number | undefined }> => {
    const worker = cluster.fork();
    workers.add(worker);
    return new Promise((resolve, reject) => {
      worker.on('message', (message: unknown) => {
        if (!isWorkerMessage(message)) return;
        if (message.sluice === 'collected') return collector.received(worker, message);
        if (message.sluice !== 'listening') return answer(worker, message);
        listening.add(worker);
        resolve({ url: message.url, pid: worker.process.pid });
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        collector.gone(worker);
        const how = describeExit(code, signal);
        if (!listening.delete(worker)) {
          reject(new Error(`worker ${worker.process.pid} exited (${how}) before it was listening`));
        } else if (!stopping) {
          options.report(`worker ${worker.process.pid} exited (${how}); starting another`);
          replaceLater(worker.process.pid);
        }
      });
    });
  };

  const close = async () => {
    stopping = true;
    for (const timer of pendingRestarts) clearTimeout(timer);
    const exited = [...workers].map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    for (const worker of workers) worker.process.kill('SIGTERM');
    await Promise.all(exited);
  };

  let started: { url: string }[];
  try {
    started = await Promise.all(Array.from({ length: options.workers }, fork));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url: started[0]?.url ?? '',
    close,
  };
}

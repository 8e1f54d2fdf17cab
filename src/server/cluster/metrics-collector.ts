import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { CollectedMetrics, CollectMetrics } from './messages.ts';

const COLLECT_TIMEOUT_MS = 5000;

interface Collection {
  /** The workers asked that have not answered yet. */
  waiting: Set<Worker>;
  reports: object[][];
  finish(error?: Error): void;
}

/**
 * Sums the metrics of the workers the primary names, as prom-client's cluster support does,
 * but asking only workers that are listening: one still loading its modules could not answer
 * yet, and a scrape would wait for it, then fail.
 */
export class MetricsCollector {
  private readonly collections = new Map<number, Collection>();
  private nextId = 0;

  /** The Prometheus text of every worker's metrics summed (their histograms and counters added). */
  collect(workers: Iterable<Worker>): Promise<string> {
    const id = this.nextId++;
    const waiting = new Set([...workers].filter((worker) => worker.isConnected()));
    return new Promise((resolve, reject) => {
      const reports: object[][] = [];
      const timer = setTimeout(() => {
        const silent = [...waiting].map((worker) => worker.process.pid).join(', ');
        finish(new Error(`worker ${silent} did not report within ${COLLECT_TIMEOUT_MS} ms`));
      }, COLLECT_TIMEOUT_MS);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.collections.delete(id);
        if (error) reject(error);
        else resolve(AggregatorRegistry.aggregate(reports).metrics());
      };
      this.collections.set(id, { waiting, reports, finish });
      for (const worker of waiting) worker.send({ sluice: 'collect', id } satisfies CollectMetrics);
      if (waiting.size === 0) finish();
    });
  }

  /** A worker's report for one collection. */
  received(worker: Worker, message: CollectedMetrics): void {
    const collection = this.collections.get(message.id);
    if (!collection?.waiting.delete(worker)) return;
    collection.reports.push(message.metrics);
    if (collection.waiting.size === 0) collection.finish();
  }

  /** A worker that exited reports nothing more: the sum goes on without it rather than waiting. */
  gone(worker: Worker): void {
    for (const collection of this.collections.values()) {
      if (collection.waiting.delete(worker) && collection.waiting.size === 0) collection.finish();
    }
  }
}

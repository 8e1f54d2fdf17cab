/**
 * What the primary and the workers of a cluster say to each other over Node's IPC channel.
 * Every message carries `sluice`, so messages of Node's own on the same channel pass by.
 */

/** A worker's gateway is accepting requests at `url`. */
export interface ListeningMessage {
  sluice: 'listening';
  url: string;
}

/** A worker asks the primary to count a request against `caller`'s rate limit. */
export interface RateLimitAsk {
  sluice: 'rate-limit';
  id: number;
  caller: string;
}

/** A worker asks the primary for the metrics of every worker, summed. */
export interface MetricsAsk {
  sluice: 'metrics';
  id: number;
}

export type WorkerAsk = RateLimitAsk | MetricsAsk;

/** The primary's answer to the ask with the same `id`. */
export interface PrimaryReply {
  sluice: 'reply';
  id: number;
  /** Metrics in the Prometheus text format (a MetricsAsk). */
  metrics?: string;
  /** The request is refused (a RateLimitAsk over the limit, or a failure to gather metrics). */
  refused?: { type: 'rate_limit_error' | 'api_error'; message: string; retryAfterMs?: number };
}

/** The primary asks a worker for its own metrics, to sum them with the others'. */
export interface CollectMetrics {
  sluice: 'collect';
  id: number;
}

/** A worker's own metrics (prom-client's `getMetricsAsJSON()`), for the CollectMetrics `id`. */
export interface CollectedMetrics {
  sluice: 'collected';
  id: number;
  metrics: object[];
}

export type WorkerMessage = ListeningMessage | WorkerAsk | CollectedMetrics;
export type PrimaryMessage = PrimaryReply | CollectMetrics;

const WORKER_MESSAGES: ReadonlySet<unknown> = new Set(['listening', 'rate-limit', 'metrics', 'collected']);
const PRIMARY_MESSAGES: ReadonlySet<unknown> = new Set(['reply', 'collect']);

/** Whether `message` is one of ours of one of these kinds (Node's own messages share the channel). */
function isSluiceMessage(message: unknown, kinds: ReadonlySet<unknown>): boolean {
  return (
    typeof message === 'object' && message !== null && kinds.has((message as { sluice?: unknown }).sluice)
  );
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return isSluiceMessage(message, WORKER_MESSAGES);
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return isSluiceMessage(message, PRIMARY_MESSAGES);
}

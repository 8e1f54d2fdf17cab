/**
 * What the primary and the workers of a cluster say to each other over Node's IPC channel.
 * Every message carries `sluice`, so prom-client's own messages on the same channel pass by.
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

export type WorkerMessage = ListeningMessage | WorkerAsk;

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && 'sluice' in message && message.sluice !== 'reply';
}

export function isPrimaryReply(message: unknown): message is PrimaryReply {
  return typeof message === 'object' && message !== null && 'sluice' in message && message.sluice === 'reply';
}

import type { IncomingHttpHeaders } from 'node:http';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { type ApiKeys, keyLabel } from './auth.ts';
import type { InFlight } from './in-flight.ts';
import type { ModelResolver } from './models.ts';
import type { RequestLimiter } from './rate-limit.ts';
import type { SecretScrubber } from './secrets.ts';
import type { Telemetry } from './telemetry.ts';

/** What every route of the gateway shares. */
export interface GatewayContext {
  apiKeys: ApiKeys;
  rateLimiter: RequestLimiter;
  models: ModelResolver;
  policy: Partial<ResiliencePolicy>;
  pingIntervalMs: number;
  telemetry: Telemetry;
  /** Aborts every request in flight: the end of a graceful shutdown's grace period. */
  shutdown: AbortSignal;
  /** The model calls in flight, each aborted when `shutdown` is. */
  inFlight: InFlight;
  /** Takes the configured secrets and internal addresses out of upstream text before a caller sees it; key-shaped strings and addresses only when absent. */
  scrubber?: SecretScrubber;
}

/**
 * Lets a request in: checks its key, then its rate (per key, or per address without keys).
 * Returns a label of the key for logs, never the key itself.
 */
export async function admit(
  gateway: GatewayContext,
  headers: IncomingHttpHeaders,
  address: string,
): Promise<string | undefined> {
  const key = gateway.apiKeys.check(headers);
  const label = keyLabel(key);
  await gateway.rateLimiter.take(label ?? `address:${address}`);
  return label;
}

import type { ResiliencePolicy } from '../resilience/policy.ts';
import type { ApiKeys } from './auth.ts';
import type { AuthFailures } from './auth-failures.ts';
import type { DurableStreams } from './durable/durable-streams.ts';
import type { ErrorShapes } from './errors.ts';
import type { InFlight } from './in-flight.ts';
import type { ModelResolver } from './models.ts';
import type { RequestLimiter } from './rate-limit.ts';
import type { SecretScrubber } from './secrets.ts';
import type { Telemetry } from './telemetry.ts';

/** What every route of the gateway shares. */
export interface GatewayContext {
  apiKeys: ApiKeys;
  rateLimiter: RequestLimiter;
  /** Failed key attempts per address (the admission hook refuses an address past its limit). */
  authFailures: AuthFailures;
  models: ModelResolver;
  policy: Partial<ResiliencePolicy>;
  pingIntervalMs: number;
  telemetry: Telemetry;
  /** Aborts every request in flight: the end of a graceful shutdown's grace period. */
  shutdown: AbortSignal;
  /** The model calls in flight, each aborted when `shutdown` is. */
  inFlight: InFlight;
  /** The error body each path's callers expect (routes register theirs). */
  errorShapes: ErrorShapes;
  /** Takes the configured secrets and internal addresses out of upstream text before a caller sees it; key-shaped strings and addresses only when absent. */
  scrubber?: SecretScrubber;
  /** The stream log every streamed answer is written to, and this instance's producers. */
  streams: DurableStreams;
  /** How long a stored response (`/v1/responses`) is kept after its last write. */
  responsesTtlSeconds: number;
}

import type { ResiliencePolicy } from '../resilience/policy.ts';
import type { ApiKeys } from './auth.ts';
import type { AuthFailures } from './auth-failures.ts';
import type { DurableStreams } from './durable/durable-streams.ts';
import type { ErrorShapes } from './errors.ts';
import type { InFlight } from './in-flight.ts';
import type { Metering } from './keys/call-meter.ts';
import type { KeyRates } from './keys/key-rates.ts';
import type { ModelResolver } from './models.ts';
import type { GatewayOtel } from './otel/types.ts';
import type { PriceTable } from './prices.ts';
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
  /** Whether streamed Anthropic answers may pass through (relay/fast-relay.ts). */
  passThrough: boolean;
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
  /** USD per million tokens per model: the built-in table under the configuration's `prices`. */
  prices: PriceTable;
  /** With a database: stored keys (budgets, models, rpm) and the ledger. Absent: only `apiKeys`. */
  metering?: Metering;
  /** With OTEL_EXPORTER_OTLP_ENDPOINT: GenAI spans and metrics (otel/). */
  otel?: GatewayOtel;
  /** The rate limits of stored keys that have their own `rpm`. */
  keyRates: KeyRates;
  /** How long a stored response (`/v1/responses`) is kept after its last write. */
  responsesTtlSeconds: number;
}

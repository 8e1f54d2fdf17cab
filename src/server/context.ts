import type { ResiliencePolicy } from '../resilience/policy.ts';
import type { ApiKeys } from './auth.ts';
import type { ModelResolver } from './models.ts';

/** What every route of the gateway shares. */
export interface GatewayContext {
  apiKeys: ApiKeys;
  models: ModelResolver;
  policy: Partial<ResiliencePolicy>;
  pingIntervalMs: number;
}

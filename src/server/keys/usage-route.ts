import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../protocol/errors.ts';
import { storedKeyOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import { summarizeUsage } from '../ledger/summary.ts';
import { usageRow } from './admin-routes.ts';
import { keyView } from './views.ts';

/**
 * `GET /v1/usage`: the calling key's own budget and its spend in the current period, per
 * model (what a web page shows its user). Only with a key store, for a stored key.
 */
export function registerUsageRoute(api: FastifyInstance, gateway: GatewayContext): void {
  const metering = gateway.metering;
  if (!metering) return;
  api.get('/v1/usage', async (request) => {
    const admitted = storedKeyOf(request);
    if (!admitted) {
      throw new NotFoundError(
        'This key is one of the configured keys (SLUICE_API_KEYS), which have no budget or usage of their own.',
      );
    }
    const key = (await metering.store.byId(admitted.id)) ?? admitted;
    const calls = await metering.store.calls({ keyId: key.id, from: key.periodStart });
    return { key: keyView(key, metering.store.now()), usage: summarizeUsage(calls, 'model').map(usageRow) };
  });
}

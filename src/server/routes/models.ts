import type { FastifyInstance } from 'fastify';
import { type ModelEntry, modelEntry, modelList } from '../../protocol/models.ts';
import type { GatewayContext } from '../context.ts';
import type { PriceTable } from '../prices.ts';

/**
 * What a model costs, in USD per million tokens, as `GET /v1/models` entries carry it (the
 * chat page prices each answer with it); null when the gateway knows no price for it.
 */
export interface ModelPricing {
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
}

/** `GET /v1/models` and `GET /v1/models/{id}`, in the shape both official SDKs read (admitted by the API plugin). */
export function registerModelsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  // A gateway's models have no creation date of their own: they are there from its start.
  const since = new Date();

  app.get('/v1/models', async () => {
    return modelList(gateway.models.known.map((id) => listedEntry(gateway, id, since)));
  });

  // A wildcard, not a parameter: `provider:model` names may hold slashes (`openai:meta-llama/…`).
  app.get('/v1/models/*', async (request) => {
    const id = (request.params as { '*': string })['*'];
    // Any name a request could use is a model here, listed or not; anything else is the
    // resolver's 404, which names what there is.
    const { ref } = gateway.models.resolve(id);
    return priced(gateway.prices, modelEntry(id, providerPart(ref), since), ref, id);
  });
}

/** A listed name's entry: the provider it resolves to and its price. */
function listedEntry(
  gateway: GatewayContext,
  id: string,
  since: Date,
): ModelEntry & { pricing: ModelPricing | null } {
  let ref: string | undefined;
  try {
    ref = gateway.models.resolve(id).ref;
  } catch {
    // An alias to a provider that is not there (createServer does not check its options as
    // the config file is checked): listed still, and a request for it gets the 404 that says why.
  }
  return priced(
    gateway.prices,
    modelEntry(id, ref === undefined ? 'unknown' : providerPart(ref), since),
    ref,
    id,
  );
}

function priced(
  prices: PriceTable,
  entry: ModelEntry,
  ref: string | undefined,
  asked: string,
): ModelEntry & { pricing: ModelPricing | null } {
  return { ...entry, pricing: ref === undefined ? null : pricingOf(prices, ref, asked) };
}

/**
 * A model's price as the gateway charges it: the configuration's `prices` over the library's
 * list prices (the same table budgets and the ledger use), by model, else by the name asked.
 */
export function pricingOf(prices: PriceTable, ref: string, asked?: string): ModelPricing | null {
  const price = prices.of(ref, asked);
  if (!price) return null;
  return {
    input: price.input,
    output: price.output,
    cache_read: price.cacheRead ?? price.input,
    cache_write: price.cacheWrite ?? price.input,
  };
}

function providerPart(ref: string): string {
  return ref.slice(0, ref.indexOf(':'));
}

import type { FastifyInstance } from 'fastify';
import { modelEntry, modelList } from '../../protocol/models.ts';
import type { GatewayContext } from '../context.ts';

/** `GET /v1/models` and `GET /v1/models/{id}`, in the shape both official SDKs read (admitted by the API plugin). */
export function registerModelsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  // A gateway's models have no creation date of their own: they are there from its start.
  const since = new Date();

  app.get('/v1/models', async () => {
    return modelList(gateway.models.known.map((id) => modelEntry(id, listedProvider(gateway, id), since)));
  });

  // A wildcard, not a parameter: `provider:model` names may hold slashes (`openai:meta-llama/…`).
  app.get('/v1/models/*', async (request) => {
    const id = (request.params as { '*': string })['*'];
    // Any name a request could use is a model here, listed or not; anything else is the
    // resolver's 404, which names what there is.
    return modelEntry(id, providerPart(gateway.models.resolve(id).ref), since);
  });
}

/** The provider a listed name resolves to. */
function listedProvider(gateway: GatewayContext, id: string): string {
  try {
    return providerPart(gateway.models.resolve(id).ref);
  } catch {
    // An alias to a provider that is not there (createServer does not check its options as
    // the config file is checked): listed still, and a request for it gets the 404 that says why.
    return 'unknown';
  }
}

function providerPart(ref: string): string {
  return ref.slice(0, ref.indexOf(':'));
}

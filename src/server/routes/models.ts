import type { FastifyInstance } from 'fastify';
import { admit, type GatewayContext } from '../context.ts';

/**
 * `GET /v1/models` and `GET /v1/models/{id}`: entries that both official SDKs read, with
 * Anthropic's fields and OpenAI's side by side (clients with strict types in other languages
 * reject an entry missing theirs).
 */
export function registerModelsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  // A gateway's models have no creation date of their own: they are there from its start.
  const since = new Date();
  const entry = (id: string, provider: string) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: since.toISOString(),
    object: 'model',
    created: Math.floor(since.getTime() / 1000),
    owned_by: provider,
  });

  app.get('/v1/models', async (request) => {
    await admit(gateway, request.headers, request.ip);
    const data = gateway.models.known.map((id) => entry(id, listedProvider(gateway, id)));
    return {
      object: 'list',
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    };
  });

  // A wildcard, not a parameter: `provider:model` names may hold slashes (`openai:meta-llama/…`).
  app.get('/v1/models/*', async (request) => {
    await admit(gateway, request.headers, request.ip);
    const id = (request.params as { '*': string })['*'];
    // Any name a request could use is a model here, listed or not; anything else is the
    // resolver's 404, which names what there is.
    return entry(id, providerPart(gateway.models.resolve(id).ref));
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

import type { FastifyInstance } from 'fastify';
import { admit, type GatewayContext } from '../context.ts';

/**
 * `GET /v1/models`: one list that both official SDKs read, Anthropic's fields and OpenAI's
 * side by side (clients with strict types in other languages reject a list missing theirs).
 */
export function registerModelsRoute(app: FastifyInstance, gateway: GatewayContext): void {
  // A gateway's models have no creation date of their own: they are there from its start.
  const since = new Date();
  const createdAt = since.toISOString();
  const created = Math.floor(since.getTime() / 1000);
  app.get('/v1/models', async (request) => {
    await admit(gateway, request.headers, request.ip);
    const data = gateway.models.known.map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: createdAt,
      object: 'model',
      created,
      owned_by: providerOf(gateway, id),
    }));
    return {
      object: 'list',
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    };
  });
}

/** The provider a listed name resolves to. */
function providerOf(gateway: GatewayContext, id: string): string {
  try {
    return gateway.models.resolve(id).ref.split(':')[0]!;
  } catch {
    // An alias to a provider that is not there (createServer does not check its options as
    // the config file is checked): listed still, and a request for it gets the 404 that says why.
    return 'unknown';
  }
}

import Fastify, { type FastifyInstance } from 'fastify';
import { NotFoundError } from '../protocol/errors.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { ApiKeys } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { sendError, toSluiceError } from './errors.ts';
import { ModelResolver } from './models.ts';
import { registerChatCompletionsRoute } from './routes/chat-completions.ts';
import { registerMessagesRoute } from './routes/messages.ts';

export interface GatewayOptions {
  registry?: ProviderRegistry;
  aliases?: Record<string, string>;
  apiKeys?: readonly string[];
  bodyLimitBytes?: number;
  pingIntervalMs?: number;
  policy?: Partial<ResiliencePolicy>;
}

/** The streaming gateway as a Fastify app (not yet listening). */
export function createServer(options: GatewayOptions = {}): FastifyInstance {
  const registry = options.registry ?? new ProviderRegistry();
  const gateway: GatewayContext = {
    apiKeys: new ApiKeys(options.apiKeys ?? []),
    models: new ModelResolver(registry, options.aliases),
    policy: options.policy ?? {},
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
  };
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? 10 * 1024 * 1024, logger: false });

  app.setErrorHandler((error, _request, reply) => sendError(reply, toSluiceError(error)));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new NotFoundError(`No route ${request.method} ${request.url.split('?')[0]}.`)),
  );

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/v1/models', async (request) => {
    gateway.apiKeys.check(request.headers);
    return {
      data: gateway.models.known.map((id) => ({ type: 'model', id, display_name: id })),
      has_more: false,
    };
  });
  registerMessagesRoute(app, gateway);
  registerChatCompletionsRoute(app, gateway);
  return app;
}

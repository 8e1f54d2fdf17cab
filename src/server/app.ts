import Fastify, { type FastifyInstance } from 'fastify';
import { NotFoundError } from '../protocol/errors.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { ApiKeys } from './auth.ts';
import { DEFAULT_FALLBACK_TEXT } from './config.ts';
import type { GatewayContext } from './context.ts';
import { createDispatcher, type RouteHandler } from './dispatcher.ts';
import { errorForCaller, sendError } from './errors.ts';
import { InFlight } from './in-flight.ts';
import { type MetricsSource, registerMetricsEndpoint } from './metrics-endpoint.ts';
import { ModelResolver } from './models.ts';
import { RateLimiter, type RequestLimiter } from './rate-limit.ts';
import { createRouter, type RouterOptions } from './router.ts';
import { registerChatCompletionsRoute } from './routes/chat-completions.ts';
import { registerMessagesRoute } from './routes/messages.ts';
import { registerModelsRoute } from './routes/models.ts';
import { registerStreamingChatRoute, type StreamingChatLogEntry } from './routes/streaming-chat.ts';
import { SecretScrubber } from './secrets.ts';
import { NO_TELEMETRY, type Telemetry } from './telemetry.ts';

/** How `createServer` builds the gateway: providers, aliases, fallbacks, keys, limits, routes and handlers. */
export interface GatewayOptions {
  registry?: ProviderRegistry;
  aliases?: Record<string, string>;
  /** Per model or alias: the models tried, in order, when it fails before its first byte. */
  fallbacks?: Record<string, readonly string[]>;
  apiKeys?: readonly string[];
  /** The key `GET /metrics` asks for; without it, `/metrics` is closed when `apiKeys` are set. */
  metricsKey?: string;
  /** What to take out of upstream error text (secrets.ts); absent: the keys above and key-shaped strings. */
  scrubber?: SecretScrubber;
  bodyLimitBytes?: number;
  pingIntervalMs?: number;
  policy?: Partial<ResiliencePolicy>;
  /** Requests a minute per key (or per address without keys); 0 turns the limit off. */
  rateLimit?: { requestsPerMinute: number; burst?: number };
  /** Takes the place of `rateLimit`'s own buckets: a cluster's workers share the primary's. */
  rateLimiter?: RequestLimiter;
  telemetry?: Telemetry;
  /** Aborting it ends every request in flight (the end of a shutdown's grace period). */
  shutdown?: AbortSignal;
  /** `POST /streaming_chat`: how requests are classified and answered; none: all go to the default model. */
  routes?: RouterOptions;
  /** Custom answers for routes, by route name (async generators of text). */
  handlers?: Record<string, RouteHandler>;
  /** Where `/streaming_chat` reports failures (a log line each). */
  log?: (entry: StreamingChatLogEntry) => void;
}

/** The streaming gateway as a Fastify app (not yet listening). */
export function createServer(options: GatewayOptions = {}): FastifyInstance {
  const registry = options.registry ?? new ProviderRegistry();
  const shutdown = options.shutdown ?? new AbortController().signal;
  const gateway: GatewayContext = {
    apiKeys: new ApiKeys(options.apiKeys ?? []),
    rateLimiter:
      options.rateLimiter ??
      new RateLimiter(options.rateLimit?.requestsPerMinute ?? 0, { burst: options.rateLimit?.burst }),
    models: new ModelResolver(registry, options.aliases, options.fallbacks),
    policy: options.policy ?? {},
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    telemetry: options.telemetry ?? NO_TELEMETRY,
    shutdown,
    inFlight: new InFlight(shutdown),
    scrubber: options.scrubber ?? new SecretScrubber([...(options.apiKeys ?? []), options.metricsKey ?? '']),
  };
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? 10 * 1024 * 1024, logger: false });

  app.setErrorHandler((error, _request, reply) => sendError(reply, errorForCaller(error)));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new NotFoundError(`No route ${request.method} ${request.url.split('?')[0]}.`)),
  );

  app.get('/healthz', async () => ({ ok: true }));
  registerModelsRoute(app, gateway);
  const metrics = options.telemetry as Partial<MetricsSource> | undefined;
  if (typeof metrics?.metrics === 'function') {
    const access = { metricsKey: options.metricsKey, keysRequired: gateway.apiKeys.required };
    registerMetricsEndpoint(app, metrics as MetricsSource, access);
  }
  registerMessagesRoute(app, gateway);
  registerChatCompletionsRoute(app, gateway);
  const routing = { gateway, defaultModel: registry.defaultModel };
  const routes = options.routes ?? {
    classifier: { type: 'rules' },
    fallbackText: DEFAULT_FALLBACK_TEXT,
    routes: [],
  };
  registerStreamingChatRoute(
    app,
    gateway,
    createRouter(routes, routing),
    createDispatcher(routes.routes, {
      ...routing,
      fallbackText: routes.fallbackText,
      handlers: options.handlers,
    }),
    { log: options.log },
  );
  return app;
}

import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Price } from '../client/usage.ts';
import { NotFoundError, OverloadedError, SluiceError } from '../protocol/errors.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { keysRequired, registerApi } from './admission.ts';
import { ApiKeys } from './auth.ts';
import { type AuthFailureLimit, AuthFailures } from './auth-failures.ts';
import { bodyTimeoutHook } from './body-timeout.ts';
import { DEFAULT_FALLBACK_TEXT } from './config.ts';
import { limitConnectionsPerAddress } from './connection-limit.ts';
import type { GatewayContext } from './context.ts';
import { createDispatcher, type RouteHandler } from './dispatcher.ts';
import { DurableStreams } from './durable/durable-streams.ts';
import { registerStreamsRoutes } from './durable/streams-route.ts';
import { ErrorShapes, errorForCaller, isInternal, sendError } from './errors.ts';
import { hostChecker } from './host-check.ts';
import { InFlight } from './in-flight.ts';
import { useDepthLimitedJson } from './json-body.ts';
import { registerAdminRoutes } from './keys/admin-routes.ts';
import { KeyRates } from './keys/key-rates.ts';
import type { KeyStore } from './keys/key-store.ts';
import { registerUsageRoute } from './keys/usage-route.ts';
import { DEFAULT_FAILED_KEY_LIMIT, DEFAULT_TIMEOUTS, type RequestTimeouts } from './limits.ts';
import { type MetricsSource, registerMetricsEndpoint } from './metrics-endpoint.ts';
import { ModelResolver } from './models.ts';
import type { GatewayOtel } from './otel/types.ts';
import { answerParserError } from './parser-errors.ts';
import { PriceTable } from './prices.ts';
import { RateLimiter, type RequestLimiter } from './rate-limit.ts';
import { createRouter, type RouterOptions } from './router.ts';
import { registerChatCompletionsRoute } from './routes/chat-completions.ts';
import { registerCountTokensRoute } from './routes/count-tokens.ts';
import { registerMessagesRoute } from './routes/messages.ts';
import { registerModelsRoute } from './routes/models.ts';
import { registerResponsesRoutes } from './routes/responses.ts';
import { registerStreamingChatRoute, type StreamingChatLogEntry } from './routes/streaming-chat.ts';
import { SecretScrubber } from './secrets.ts';
import type { StreamsConfig } from './streams/config.ts';
import { MemoryStreamLog } from './streams/memory-store.ts';
import type { StreamLog } from './streams/types.ts';
import { NO_TELEMETRY, type Telemetry } from './telemetry.ts';
import { registerWebPage } from './web-page.ts';

/** What the log gets about a failure the gateway did not foresee: the cause, never sent to the client. */
export interface InternalErrorEntry {
  requestId: string;
  method: string;
  url: string;
  cause: { name: string; message: string; stack: string | undefined };
}

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
  /**
   * Whether a streamed Anthropic answer from an Anthropic-wire upstream may pass the upstream's
   * SSE text through, decoded only when something goes wrong (default true); false decodes and
   * re-encodes every event.
   */
  passThrough?: boolean;
  policy?: Partial<ResiliencePolicy>;
  /** Requests a minute per key (or per address without keys); 0 turns the limit off. */
  rateLimit?: { requestsPerMinute: number; burst?: number };
  /** Takes the place of `rateLimit`'s own buckets: a cluster's workers share the primary's. */
  rateLimiter?: RequestLimiter;
  /** Failed key attempts per address before it is refused for the rest of the window (429). */
  failedKeyLimit?: AuthFailureLimit;
  /** How long a client may take to send its request; DEFAULT_TIMEOUTS for what is not given. */
  timeouts?: Partial<RequestTimeouts>;
  /** Open connections per client address; 0 or absent: no limit. */
  maxConnectionsPerAddress?: number;
  /**
   * The `Host` names accepted besides localhost, 127.0.0.1 and [::1]; absent: any Host (the
   * check is for a gateway on loopback without keys, which startGateway turns on).
   */
  allowedHosts?: readonly string[];
  /** Browser origins allowed to call the gateway (`*`: any); absent or empty: no CORS headers. */
  corsOrigins?: readonly string[];
  telemetry?: Telemetry;
  /** Aborting it ends every request in flight (the end of a shutdown's grace period). */
  shutdown?: AbortSignal;
  /** `POST /streaming_chat`: how requests are classified and answered; none: all go to the default model. */
  routes?: RouterOptions;
  /** Custom answers for routes, by route name (async generators of text). */
  handlers?: Record<string, RouteHandler>;
  /** Where `/streaming_chat` reports failures (a log line each). */
  log?: (entry: StreamingChatLogEntry) => void;
  /** Where unforeseen failures (500s) are reported with their cause and the request id. */
  onInternalError?: (entry: InternalErrorEntry) => void;
  /** The stream log streamed answers are written to; absent: one in this process's memory, closed with the app. */
  streamLog?: StreamLog;
  /** The streams this instance produces, over `streamLog` (startGateway builds it to wait on it at shutdown). */
  durableStreams?: DurableStreams;
  /** How a client's leaving is handled (`detachGraceMs`, `onDisconnect`). */
  streams?: Pick<StreamsConfig, 'detachGraceMs' | 'onDisconnect'>;
  /** Where the gateway's warnings go (a stream log failing mid-stream). */
  warn?: (message: string) => void;
  /** Stored keys (budgets, models, rpm) and the ledger; with it, every caller needs a key. The caller closes it. */
  keyStore?: KeyStore;
  /** USD per million tokens per provider:model or alias, over the built-in DEFAULT_PRICES. */
  prices?: Record<string, Price>;
  /** The limiters of stored keys with their own rpm (startGateway shares them through Redis); absent: this process's. */
  keyRates?: KeyRates;
  /** The key of the admin API (`/admin/*`); absent: the admin API answers 404. */
  adminKey?: string;
  /** OpenTelemetry's GenAI spans and metrics (startGateway starts it when OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  otel?: GatewayOtel;
  /** How long a stored response is kept; default 30 days with a shared (Redis) log, 1 hour in memory. */
  responses?: { ttlSeconds?: number | undefined };
}

/** How long stored responses are kept by default: OpenAI's 30 days in a shared log, an hour in this process's memory. */
const RESPONSES_TTL_SHARED = 30 * 24 * 3600;
const RESPONSES_TTL_MEMORY = 3600;

/** What the gateway's routes share, built from its options. */
export function gatewayContext(options: GatewayOptions = {}): GatewayContext {
  const registry = options.registry ?? new ProviderRegistry();
  const shutdown = options.shutdown ?? new AbortController().signal;
  const prices = new PriceTable(options.prices);
  const streams =
    options.durableStreams ??
    new DurableStreams({
      log: options.streamLog ?? new MemoryStreamLog(),
      config: options.streams,
      warn: options.warn,
    });
  return {
    apiKeys: new ApiKeys(options.apiKeys ?? []),
    rateLimiter:
      options.rateLimiter ??
      new RateLimiter(options.rateLimit?.requestsPerMinute ?? 0, { burst: options.rateLimit?.burst }),
    authFailures: new AuthFailures(options.failedKeyLimit ?? DEFAULT_FAILED_KEY_LIMIT),
    models: new ModelResolver(registry, options.aliases, options.fallbacks),
    policy: options.policy ?? {},
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    passThrough: options.passThrough ?? true,
    telemetry: options.telemetry ?? NO_TELEMETRY,
    shutdown,
    inFlight: new InFlight(shutdown),
    errorShapes: new ErrorShapes(),
    scrubber:
      options.scrubber ??
      new SecretScrubber([...(options.apiKeys ?? []), options.metricsKey ?? '', options.adminKey ?? '']),
    prices,
    metering: options.keyStore && { store: options.keyStore, prices, warn: options.warn ?? (() => {}) },
    keyRates: options.keyRates ?? new KeyRates(),
    otel: options.otel,
    streams,
    responsesTtlSeconds:
      options.responses?.ttlSeconds ?? (streams.shared ? RESPONSES_TTL_SHARED : RESPONSES_TTL_MEMORY),
  };
}

/**
 * The streaming gateway as a Fastify app (not yet listening). The order a request meets:
 * root `onRequest` hooks (request id, shutdown drain, Host check), the API plugin's
 * `onRequest` (failed-key limit, key, rate limit), `preParsing` (the body timeout), the
 * depth-limited JSON parser, then the route; every error meets the one error handler, which
 * answers in the shape of the path asked for.
 */
export function createServer(options: GatewayOptions = {}): FastifyInstance {
  const registry = options.registry ?? new ProviderRegistry();
  const gateway = gatewayContext({ ...options, registry });
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? 10 * 1024 * 1024,
    logger: false,
    genReqId: () => `req_${randomUUID().replaceAll('-', '')}`,
    keepAliveTimeout: timeouts.keepAliveMs,
    // A backstop behind the body timeout, which answers first in the route's shape.
    requestTimeout: timeouts.requestMs > 0 ? Math.max(timeouts.requestMs + 1000, timeouts.headersMs) : 0,
    http: {
      headersTimeout: timeouts.headersMs,
      // How often Node looks for requests past these limits: often enough to hold them closely.
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.round(timeouts.headersMs / 10))),
    },
    // Drained requests get the gateway's own retryable answer (below), not Fastify's.
    return503OnClosing: false,
    clientErrorHandler: (error, socket) => answerParserError(error, socket, gateway.errorShapes),
    frameworkErrors: (error, request, reply) => {
      const sluice = errorForCaller(error);
      sendError(reply, sluice, gateway.errorShapes.forUrl(request.url)(sluice));
    },
  });
  // A log given by the caller is the caller's to close (startGateway closes it after the app).
  if (!options.streamLog && !options.durableStreams)
    app.addHook('onClose', async () => gateway.streams.log.close());
  limitConnectionsPerAddress(app.server, options.maxConnectionsPerAddress ?? 0);
  useDepthLimitedJson(app);

  app.setErrorHandler((error, request, reply) => {
    let sluice = errorForCaller(error);
    if (isInternal(error)) {
      options.onInternalError?.(internalErrorEntry(error, request.id, request.method, request.url));
      sluice = new SluiceError(
        'api_error',
        `The gateway failed to handle the request (request id ${request.id}); its log has the cause.`,
      );
    }
    // The body was not read: closing is cheaper than reading on, and safer than a parser out of step.
    if (!request.raw.complete) reply.header('connection', 'close');
    return sendError(reply, sluice, gateway.errorShapes.forUrl(request.url)(sluice));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new NotFoundError(`No route ${request.method} ${request.url.split('?')[0]}.`);
    return sendError(reply, error, gateway.errorShapes.forUrl(request.url)(error));
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  const checkHost = options.allowedHosts ? hostChecker(options.allowedHosts) : undefined;
  app.addHook('onRequest', async (request, reply) => {
    // Like Anthropic's: the id a caller quotes when reporting a failure, found in the log.
    reply.header('request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      throw new OverloadedError('The gateway is shutting down; retry the request.', { retryAfterMs: 1000 });
    }
    checkHost?.(request.headers.host);
  });
  app.addHook('preParsing', bodyTimeoutHook({ idleMs: timeouts.bodyMs, totalMs: timeouts.requestMs }));
  if (options.corsOrigins?.length) {
    // Before the API plugin: an encapsulated plugin inherits only the hooks its parent has
    // when it loads, and a refused request needs its CORS headers for the page to read why.
    app.register(cors, {
      origin: options.corsOrigins.includes('*') ? true : [...options.corsOrigins],
      exposedHeaders: [
        'sluice-stream-id',
        'sluice-resume-token',
        'sluice-route',
        'sluice-relay',
        'retry-after',
        'request-id',
      ],
    });
  }

  app.get('/healthz', async () => ({ ok: true }));
  // Outside the API plugin: the page loads without a key, and asks for one.
  registerWebPage(app);
  const metrics = options.telemetry as Partial<MetricsSource> | undefined;
  if (typeof metrics?.metrics === 'function') {
    const access = { metricsKey: options.metricsKey, keysRequired: keysRequired(gateway) };
    registerMetricsEndpoint(app, metrics as MetricsSource, access);
  }
  const routing = { gateway, defaultModel: registry.defaultModel };
  const routes = options.routes ?? {
    classifier: { type: 'rules' },
    fallbackText: DEFAULT_FALLBACK_TEXT,
    routes: [],
  };
  const router = createRouter(routes, routing);
  const dispatcher = createDispatcher(routes.routes, {
    ...routing,
    fallbackText: routes.fallbackText,
    handlers: options.handlers,
  });
  // Every route in here is admitted (key, rate) by the plugin's hook before it runs.
  registerApi(app, gateway, (api) => {
    registerModelsRoute(api, gateway);
    registerMessagesRoute(api, gateway);
    registerCountTokensRoute(api, gateway);
    registerChatCompletionsRoute(api, gateway);
    registerStreamingChatRoute(api, gateway, router, dispatcher, { log: options.log });
    registerStreamsRoutes(api, gateway);
    registerUsageRoute(api, gateway);
    registerResponsesRoutes(api, gateway);
  });
  if (options.keyStore && options.adminKey)
    registerAdminRoutes(app, gateway, options.keyStore, options.adminKey);
  return app;
}

function internalErrorEntry(
  error: unknown,
  requestId: string,
  method: string,
  url: string,
): InternalErrorEntry {
  const cause =
    error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: 'unknown', message: String(error), stack: undefined };
  return { requestId, method, url: url.split('?')[0]!, cause };
}

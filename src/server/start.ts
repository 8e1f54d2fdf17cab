import type { FastifyInstance } from 'fastify';
import { OverloadedError } from '../protocol/errors.ts';
import { createServer } from './app.ts';
import { assertSafeBinding, configuredModels, type GatewayConfig, isLoopback } from './config.ts';
import { DurableStreams } from './durable/durable-streams.ts';
import { openKeyStore } from './keys/open.ts';
import { createLogger, scrubSecrets } from './logger.ts';
import { MetricLabels } from './metric-labels.ts';
import { createTelemetry } from './observability.ts';
import { startOtel } from './otel/setup.ts';
import { registryFromConfig } from './providers.ts';
import type { RequestLimiter } from './rate-limit.ts';
import { scrubberFor } from './secrets.ts';
import { sharedRateLimiter } from './shared-rate-limit.ts';
import { createStreamLog } from './streams/create.ts';
import type { Telemetry } from './telemetry.ts';

/** A gateway listening: its Fastify app, its URL, and a graceful `close`. */
export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  /**
   * Graceful shutdown: stop accepting, let streams in flight finish for the grace period,
   * then abort them (each ends with an error event) and close every connection.
   */
  close(graceMs?: number): Promise<void>;
}

/** Options of `startGateway` beyond the configuration. */
export interface StartOptions {
  /** Allow a non-loopback host without API keys (`--insecure`). */
  insecure?: boolean;
  telemetry?: Telemetry;
  env?: Record<string, string | undefined>;
  /** In a worker of `sluice serve --workers N`: what the workers share through the primary. */
  cluster?: ClusterShare;
}

export interface ClusterShare {
  /** The cluster's rate limit; absent: this process's own buckets (none are needed without a limit). */
  rateLimiter?: RequestLimiter;
  /** The telemetry this worker serves `/metrics` from, given its own. */
  share(telemetry: Telemetry): Telemetry;
}

/** Builds the gateway from a loaded configuration and starts listening. */
export async function startGateway(
  config: GatewayConfig,
  options: StartOptions = {},
): Promise<RunningGateway> {
  assertSafeBinding(config, { insecure: options.insecure });
  const scrubber = scrubberFor(config, options.env);
  const logger = options.telemetry ? undefined : createLogger({ level: config.server.logLevel, scrubber });
  const labels = new MetricLabels({ knownModels: configuredModels(config) });
  const ownTelemetry = options.telemetry ?? createTelemetry({ logger, labels });
  const telemetry = options.cluster?.share(ownTelemetry) ?? ownTelemetry;
  const shutdown = new AbortController();
  const { server, streams } = config;
  // A store that does not answer stops the start here, with its address (no credentials) in the error.
  const streamLog = await createStreamLog(streams.store, {
    ttlSeconds: streams.ttlSeconds,
    leaseMs: streams.leaseMs,
    keyPrefix: streams.keyPrefix,
  });
  // With the log in Redis, the per-key rate limit is kept there too: one limit for N instances.
  const shared = await sharedRateLimiter(streams.store, server.rateLimit, streams.keyPrefix).catch(
    async (error: unknown) => {
      await streamLog.close();
      throw error;
    },
  );
  // Keys, budgets and the ledger: the configured database, else the default SQLite file once `sluice keys create` made it.
  const keys = await openKeyStore(config, options.env).catch(async (error: unknown) => {
    shared?.close();
    await streamLog.close();
    throw error;
  });
  // GenAI spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing of OpenTelemetry is loaded otherwise.
  const otel = await startOtel(options.env ?? process.env).catch(async (error: unknown) => {
    shared?.close();
    await keys?.close();
    await streamLog.close();
    throw error;
  });
  const durableStreams = new DurableStreams({
    log: streamLog,
    config: { detachGraceMs: streams.detachGraceMs, onDisconnect: streams.onDisconnect },
    warn: (message) => logger?.warn(message),
  });
  const app = createServer({
    streamLog,
    durableStreams,
    registry: registryFromConfig(config, options.env),
    aliases: config.aliases,
    fallbacks: config.fallbacks,
    apiKeys: server.apiKeys,
    metricsKey: server.metricsKey,
    scrubber,
    bodyLimitBytes: server.bodyLimitBytes,
    pingIntervalMs: server.pingIntervalMs,
    passThrough: server.passThrough,
    policy: config.resilience,
    responses: config.responses,
    rateLimit: server.rateLimit,
    rateLimiter: shared?.limiter ?? options.cluster?.rateLimiter,
    keyStore: keys?.store,
    keyRates: keys?.rates,
    prices: config.prices,
    adminKey: server.adminKey,
    otel,
    warn: (message) => logger?.warn(message),
    failedKeyLimit: server.failedKeyLimit,
    timeouts: {
      headersMs: server.headersTimeoutMs,
      bodyMs: server.bodyTimeoutMs,
      requestMs: server.requestTimeoutMs,
      keepAliveMs: server.keepAliveTimeoutMs,
    },
    maxConnectionsPerAddress: server.maxConnectionsPerAddress,
    corsOrigins: server.corsOrigins,
    // Without keys, whoever reaches a loopback gateway may use it: a web page too, by DNS rebinding.
    allowedHosts: isLoopback(server.host) && server.apiKeys.length === 0 ? server.allowedHosts : undefined,
    telemetry,
    routes: {
      classifier: config.routes.classifier,
      fallbackText: config.routes.fallbackText,
      routes: config.routes.definitions,
    },
    log: (entry) => logger?.error({ route: entry.route, error: entry.error }, 'streaming_chat failed'),
    // The cause stays in the log (secrets masked); the client gets the request id to quote.
    onInternalError: (entry) =>
      logger?.error(
        {
          ...entry,
          cause: {
            name: entry.cause.name,
            message: scrubSecrets(entry.cause.message),
            stack: entry.cause.stack === undefined ? undefined : scrubSecrets(entry.cause.stack),
          },
        },
        'internal error',
      ),
    shutdown: shutdown.signal,
  });
  let url: string;
  try {
    url = await app.listen({ host: server.host, port: server.port, backlog: server.listenBacklog });
  } catch (error) {
    shared?.close();
    await keys?.close();
    await otel?.shutdown();
    await streamLog.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (graceMs = server.shutdownGraceMs) => {
    closing ??= (async () => {
      // Stops accepting at once; resolves when the last connection has ended.
      const closed = app.close();
      const grace = setTimeout(() => {
        // Retryable: a client (Sluice's own included) tries again and lands elsewhere.
        shutdown.abort(new OverloadedError('The gateway is shutting down; retry the request.'));
        // Streams end with their error event on abort; anything still open after that is cut.
        setTimeout(() => app.server.closeAllConnections(), 1000).unref();
      }, graceMs);
      // A connection whose stream just finished would otherwise sit idle until its keep-alive
      // timeout, holding the shutdown open for seconds.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await closed;
        // Detached generations hold no connection: they too run on until the grace period ends.
        await durableStreams.whenIdle();
      } finally {
        clearTimeout(grace);
        clearInterval(sweep);
        // After the last stream ended (or released its lease): nothing writes to the log any more.
        shared?.close();
        await keys?.close();
        // The last spans and metrics, exported before the process goes.
        await otel
          ?.shutdown()
          .catch((error: unknown) =>
            logger?.warn(`OpenTelemetry export failed: ${(error as Error).message}`),
          );
        await streamLog.close();
      }
    })();
    return closing;
  };
  return { app, url, close };
}

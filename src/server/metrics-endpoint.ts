import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { AuthenticationError, PermissionDeniedError } from '../protocol/errors.ts';
import { sendError } from './errors.ts';

/** Telemetry that can also render Prometheus metrics (see observability.ts). */
export interface MetricsSource {
  metrics(): Promise<string>;
  contentType: string;
}

export interface MetricsAccess {
  /** The key `/metrics` asks for; absent: none, unless the gateway's keys are on. */
  metricsKey?: string;
  /** Whether the gateway asks callers for keys: then `/metrics` is closed without a metrics key. */
  keysRequired: boolean;
}

/**
 * `GET /metrics` in the Prometheus text format. Open on a gateway without keys (a local one);
 * behind the metrics key when one is set; closed when the gateway's keys are on and no metrics
 * key is set. The gateway's own keys never open it: they let a caller spend the providers'
 * keys, which says nothing about reading the gateway's traffic, and a scraper's key sits in
 * a monitoring configuration where a spending key should not.
 */
export function registerMetricsEndpoint(
  app: FastifyInstance,
  source: MetricsSource,
  access: MetricsAccess,
): void {
  const expected = access.metricsKey === undefined ? undefined : digest(access.metricsKey);
  app.get('/metrics', async (request, reply) => {
    if (expected === undefined && access.keysRequired) {
      return sendError(
        reply,
        new PermissionDeniedError(
          'The metrics are closed: this gateway requires API keys and has no metrics key. Set server.metricsKey (or SLUICE_METRICS_KEY) and send it as Authorization: Bearer.',
        ),
      );
    }
    if (expected !== undefined) {
      const presented = presentedKey(request.headers);
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        return sendError(
          reply,
          new AuthenticationError(
            presented === undefined
              ? 'The metrics need the metrics key: send it as Authorization: Bearer.'
              : 'Invalid metrics key.',
          ),
        );
      }
    }
    return reply.type(source.contentType).send(await source.metrics());
  });
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  const bearer = typeof authorization === 'string' ? /^Bearer\s+(.+)$/i.exec(authorization)?.[1] : undefined;
  return bearer?.trim() || undefined;
}

// Digests of equal length, so the comparison takes the same time whatever was sent.
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

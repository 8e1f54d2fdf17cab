import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyLabel } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { errorForCaller } from './errors.ts';

// The caller's key label, set by the admission hook for the route's telemetry and logs.
const callers = new WeakMap<FastifyRequest, string | undefined>();

/** A label of the key the request was admitted with (never the key); undefined without keys. */
export function callerOf(request: FastifyRequest): string | undefined {
  return callers.get(request);
}

/**
 * The API's routes, registered inside an encapsulated plugin whose `onRequest` hook admits
 * every request before any of them runs: a route added here cannot forget the key check or
 * the rate limit. `onRequest` runs before the body is read, so a request with a wrong or
 * missing key gets its 401 without its body being parsed (and its connection closed rather
 * than read on), and an address that keeps failing is refused before its key is even looked at.
 */
export function registerApi(
  app: FastifyInstance,
  gateway: GatewayContext,
  routes: (api: FastifyInstance) => void,
): void {
  app.register(async (api) => {
    api.addHook('onRequest', async (request) => admit(gateway, request));
    routes(api);
  });
}

async function admit(gateway: GatewayContext, request: FastifyRequest): Promise<void> {
  try {
    gateway.authFailures.assertAllowed(request.ip);
    let key: string | undefined;
    try {
      key = gateway.apiKeys.check(request.headers);
    } catch (error) {
      gateway.authFailures.recordFailure(request.ip);
      throw error;
    }
    const label = keyLabel(key);
    callers.set(request, label);
    await gateway.rateLimiter.take(label ?? `address:${request.ip}`);
  } catch (error) {
    // A refused request still has its log line and its count, as a route's failures do.
    const route = request.routeOptions.url ?? request.url;
    gateway.telemetry
      .start(route, undefined, false)
      .finish(errorForCaller(error).status, errorForCaller(error));
    throw error;
  }
}

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthenticationError } from '../protocol/errors.ts';
import { keyLabel } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { errorForCaller } from './errors.ts';
import { authenticate } from './keys/authenticate.ts';
import type { KeyRecord } from './keys/key-store.ts';

// The caller's key label, set by the admission hook for the route's telemetry and logs.
const callers = new WeakMap<FastifyRequest, string | undefined>();
// A digest of the caller's key (the owner of the streams it starts); '' without keys.
const owners = new WeakMap<FastifyRequest, string>();
// The store's record of the caller's key, when it is a stored key (budget, models, rpm).
const storedKeys = new WeakMap<FastifyRequest, KeyRecord>();
// Requests let in without a key because they carry a stream's resume token (checked by the route).
const byToken = new WeakSet<FastifyRequest>();

/** The path whose requests a resume token admits in place of an API key. */
export const STREAM_PATH = '/v1/streams/:id';

/** A digest of the key the request was admitted with: who owns the streams it starts. */
export function ownerOf(request: FastifyRequest): string {
  return owners.get(request) ?? '';
}

/** Whether the request came in on a resume token alone: the route must check that token against the stream. */
export function admittedByToken(request: FastifyRequest): boolean {
  return byToken.has(request);
}

/** The store's record of the key the request was admitted with; undefined for a configured key or none. */
export function storedKeyOf(request: FastifyRequest): KeyRecord | undefined {
  return storedKeys.get(request);
}

/** Whether callers need a key: configured keys, or a key store. */
export function keysRequired(gateway: GatewayContext): boolean {
  return gateway.apiKeys.required || gateway.metering !== undefined;
}

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
    if (resumesByToken(gateway, request)) {
      // The token is the stream's own secret: the route checks it (a wrong one is a 404 and
      // counts as a failed attempt), so a browser's EventSource needs no key in its URL.
      byToken.add(request);
      await gateway.rateLimiter.take(`address:${request.ip}`);
      return;
    }
    let record: KeyRecord | undefined;
    try {
      ({ key, record } = await authenticate(gateway.apiKeys, gateway.metering?.store, request.headers));
    } catch (error) {
      if (error instanceof AuthenticationError) gateway.authFailures.recordFailure(request.ip);
      throw error;
    }
    const label = keyLabel(key);
    callers.set(request, label);
    if (key !== undefined) owners.set(request, createHash('sha256').update(key).digest('hex'));
    if (record) storedKeys.set(request, record);
    // A stored key's own rpm takes the place of the gateway's rate for that key.
    if (record?.rpm !== undefined && label !== undefined) await gateway.keyRates.take(label, record.rpm);
    else await gateway.rateLimiter.take(label ?? `address:${request.ip}`);
  } catch (error) {
    // A refused request still has its log line and its count, as a route's failures do.
    const route = request.routeOptions.url ?? request.url;
    gateway.telemetry
      .start(route, undefined, false)
      .finish(errorForCaller(error).status, errorForCaller(error));
    throw error;
  }
}

/** A request to a stream's path carrying `?token=` and no key, on a gateway that wants keys. */
function resumesByToken(gateway: GatewayContext, request: FastifyRequest): boolean {
  if (!keysRequired(gateway) || request.routeOptions.url !== STREAM_PATH) return false;
  const { headers } = request;
  if (headers['x-api-key'] !== undefined || headers.authorization !== undefined) return false;
  return typeof (request.query as { token?: unknown } | undefined)?.token === 'string';
}

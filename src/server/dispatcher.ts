import type { Client } from '../client/client.ts';
import { SluiceError } from '../protocol/errors.ts';
import { DEFAULT_ROUTE, NOT_DEFINED, type RouteDefinition, type RoutingDeps } from './router.ts';
import { type ModelCall, modelClient } from './routes/model-call.ts';

/** The max_tokens of a route that sets none: a chat answer, not a document. */
export const DEFAULT_ROUTE_MAX_TOKENS = 1024;

export interface RouteHandlerContext {
  /** Aborts when the client goes away: stop work and return. */
  signal: AbortSignal;
  /**
   * A client for the route's model (created on first use, so handlers that call no model need
   * none). Its calls are the gateway's model call: fallbacks, telemetry and usage included.
   */
  readonly client: Client;
}

/** Answers one request as text chunks, sent to the client as they are yielded. */
export type RouteHandler = (request: string, context: RouteHandlerContext) => AsyncIterable<string>;

export interface DispatcherDeps extends RoutingDeps {
  /** The answer for NOT_DEFINED. */
  fallbackText: string;
  /** Handlers by route name (a configured route, NOT_DEFINED, or DEFAULT_ROUTE when no routes are configured). */
  handlers?: Record<string, RouteHandler>;
}

export interface Dispatcher {
  /** The route's answer; its model calls belong to `call` (signal, telemetry, usage). */
  dispatch(routeName: string, request: string, call: ModelCall): AsyncGenerator<string>;
  /** The `provider:model` that answers a route, for telemetry; undefined for custom handlers and NOT_DEFINED. */
  modelOf(routeName: string): string | undefined;
}

export function createDispatcher(routes: readonly RouteDefinition[], deps: DispatcherDeps): Dispatcher {
  const byName = new Map(routes.map((route) => [route.name, route]));
  if (routes.length === 0) byName.set(DEFAULT_ROUTE, { name: DEFAULT_ROUTE });
  const handlers = customHandlers(deps.handlers ?? {}, byName);

  return {
    modelOf(routeName) {
      const route = byName.get(routeName);
      if (!route || handlers.has(routeName)) return undefined;
      try {
        return deps.gateway.models.resolve(route.model ?? deps.defaultModel).ref;
      } catch {
        return undefined;
      }
    },
    async *dispatch(routeName, request, call) {
      const custom = handlers.get(routeName);
      const route = byName.get(routeName) ?? { name: routeName };
      if (custom) {
        yield* custom(request, handlerContext(route, call, deps));
      } else if (routeName === NOT_DEFINED) {
        yield deps.fallbackText;
      } else if (byName.has(routeName)) {
        yield* modelAnswer(route, request, handlerContext(route, call, deps));
      } else {
        throw new SluiceError(
          'api_error',
          `The router chose '${routeName}', a route the dispatcher does not have.`,
        );
      }
    },
  };
}

/**
 * The handlers as a Map (a plain object would also find `constructor` and friends). A handler
 * for a route that does not exist can never run, so it is an error here rather than a silently
 * dead handler.
 */
function customHandlers(
  handlers: Record<string, RouteHandler>,
  routes: ReadonlyMap<string, RouteDefinition>,
): Map<string, RouteHandler> {
  for (const name of Object.keys(handlers)) {
    if (name !== NOT_DEFINED && !routes.has(name)) {
      throw new TypeError(
        `A handler for '${name}', which is not a route; routes: ${[...routes.keys(), NOT_DEFINED].join(', ')}.`,
      );
    }
  }
  return new Map(Object.entries(handlers));
}

function handlerContext(route: RouteDefinition, call: ModelCall, deps: RoutingDeps): RouteHandlerContext {
  let client: Client | undefined;
  return {
    signal: call.signal,
    get client() {
      client ??= modelClient(deps.gateway, call, route.model ?? deps.defaultModel);
      return client;
    },
  };
}

/** The default handler: the route's model with its system prompt, through the resilient stream. */
async function* modelAnswer(
  route: RouteDefinition,
  request: string,
  context: RouteHandlerContext,
): AsyncGenerator<string> {
  const stream = context.client.stream(request, {
    system: route.system,
    maxTokens: route.maxTokens ?? DEFAULT_ROUTE_MAX_TOKENS,
    signal: context.signal,
  });
  yield* stream.textStream;
}

import { z } from 'zod/v4';
import type { ProviderSetting } from '../../providers/descriptor.ts';
import { PROVIDER_KIND_NAMES, PROVIDER_KINDS, providerKind } from '../../providers/kinds.ts';
import type { ResiliencePolicy } from '../../resilience/policy.ts';
import { DatabaseUrlSchema, PricesSchema } from '../keys/config.ts';
import { DEFAULT_FAILED_KEY_LIMIT, DEFAULT_TIMEOUTS } from '../limits.ts';
import { StreamsConfigSchema } from '../streams/config.ts';

/*
 * What a configuration file may contain: the schema of every section with its defaults. The
 * file is one layer of three (file, environment, command line; see overrides.ts); objects are
 * strict: an unknown key is an error, because a misspelt key that is silently ignored leaves a
 * setting at its default while its author believes it is set.
 *
 * Timeouts (idle, total) are `resilience.idleTimeoutMs` and `resilience.deadlineMs`: they are
 * part of the resilience policy the stream engine already reads, so they live there only.
 */

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
export const DEFAULT_API_KEYS_ENV = 'SLUICE_API_KEYS';
export const DEFAULT_BODY_LIMIT_BYTES = 10 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_PING_INTERVAL_MS = 15_000;
/**
 * Connections the kernel queues while the gateway is busy (it caps this at
 * net.core.somaxconn). Node's 511 overflowed when a thousand streams arrived within a second
 * or two, and an overflowed connection waits a full second for its SYN to be retried.
 */
export const DEFAULT_LISTEN_BACKLOG = 4096;
export const DEFAULT_FALLBACK_TEXT =
  "Sorry, I can't help with that here. Try rephrasing, or ask about one of the topics this assistant covers.";
/** The route name a classifier answers when no configured route fits. */
export const NOT_DEFINED = 'NOT_DEFINED';
/** Route patterns match case-insensitively; the router must compile them with these flags too. */
export const ROUTE_PATTERN_FLAGS = 'i';

// ── field schemas ──────────────────────────────────────────────────────────────────────────

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const NAME_EXPECTED = "expected a name of letters, digits, '_' and '-' starting with a letter";
const ALIAS = /^[A-Za-z][A-Za-z0-9_.-]*$/;
// The model part may itself hold colons (`ollama:llama3.2:3b`), never white space.
export const MODEL_REF = /^[A-Za-z][A-Za-z0-9_-]*:\S+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const EnvNameSchema = z
  .string()
  .regex(ENV_NAME, 'expected the NAME of an environment variable (such as ANTHROPIC_API_KEY), not a value');
const ProviderNameSchema = z.string().regex(NAME, NAME_EXPECTED);
const AliasNameSchema = z
  .string()
  .regex(ALIAS, "expected an alias name (letters, digits, '_', '-', '.'; no colon)");
/** `provider:model`, or the name of an alias. */
export const ModelNameSchema = z
  .string()
  .refine(
    (value) => MODEL_REF.test(value) || ALIAS.test(value),
    'expected provider:model (such as anthropic:claude-sonnet-4-5) or an alias',
  );
const MillisecondsSchema = z.number().min(0, 'expected a duration in milliseconds, 0 or more');
export const PortSchema = z.int().min(0).max(65535, 'expected a port from 0 to 65535');
const HttpUrlSchema = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
// An origin is what a browser sends: scheme and host, no path. A trailing slash never matches.
const CorsOriginSchema = z
  .string()
  .regex(/^(\*|https?:\/\/[^/\s]+)$/, "expected '*' or an origin such as https://app.example.com (no path)");

/** A regular expression source, checked by compiling it the way the router will. */
const RegexSourceSchema = z.string().superRefine((source, ctx) => {
  try {
    compileRoutePattern(source);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: (error as Error).message, // V8's own: "Invalid regular expression: /(a/i: Unterminated group"
    });
  }
});

export function compileRoutePattern(source: string): RegExp {
  return new RegExp(source, ROUTE_PATTERN_FLAGS);
}

// ── section schemas ────────────────────────────────────────────────────────────────────────

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);

export const MAX_WORKERS = 64;
export const WorkersSchema = z.int().min(1).max(MAX_WORKERS);

// ── server limits: request timeouts, connections per address, failed keys, Host check ──────
// (defaults in ../limits.ts, listed in the README's "Behaviour in production"; environment
// overrides in overrides.ts)
const SERVER_LIMITS_SHAPE = {
  /** From connection (or the previous request) to the end of the headers; then 408 and closed. */
  headersTimeoutMs: z.int().positive().default(DEFAULT_TIMEOUTS.headersMs),
  /** The longest pause between two reads of a request body; then 408 and closed. 0: none. */
  bodyTimeoutMs: z.int().min(0).default(DEFAULT_TIMEOUTS.bodyMs),
  /** The whole request (headers and body) must arrive within this; then 408 and closed. 0: none. */
  requestTimeoutMs: z.int().min(0).default(DEFAULT_TIMEOUTS.requestMs),
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: z.int().positive().default(DEFAULT_TIMEOUTS.keepAliveMs),
  /** Open connections per client address (the next is refused with 429); 0: no limit (behind a proxy, all share its address). */
  maxConnectionsPerAddress: z.int().min(0).default(0),
  /** Failed key attempts per address in a window; past it, 429 until the window ends. maxFailures 0: no limit. */
  failedKeyLimit: z
    .strictObject({
      maxFailures: z.int().min(0).default(DEFAULT_FAILED_KEY_LIMIT.maxFailures),
      windowMs: z.int().positive().default(DEFAULT_FAILED_KEY_LIMIT.windowMs),
    })
    .prefault({}),
  /**
   * Host names accepted besides localhost, 127.0.0.1 and [::1] when the gateway listens on
   * loopback without API keys (every other Host is refused: DNS rebinding).
   */
  allowedHosts: z.array(z.string().min(1)).default(() => []),
};

const ServerSchema = z.strictObject({
  /** Where to listen. A non-loopback host needs API keys, or `--insecure`. */
  host: z.string().min(1).default(DEFAULT_HOST),
  /** 0 picks a free port. */
  port: PortSchema.default(DEFAULT_PORT),
  /** Keys callers present (`x-api-key` or `Authorization: Bearer`). Empty: no authentication. */
  apiKeys: z.array(z.string().min(1)).default(() => []),
  /**
   * The key `GET /metrics` asks for (`Authorization: Bearer`), as Prometheus's `authorization`
   * setting sends it. With `apiKeys` set and no metrics key, `/metrics` is closed: the gateway's
   * keys do not open it, since a scraper needs no right to spend the providers' keys.
   */
  metricsKey: z.string().min(1).optional(),
  /** The key of the admin API (`/admin/keys`, `/admin/usage`; needs a `database`); absent: no admin API. */
  adminKey: z.string().min(1).optional(),
  /** The environment variable whose comma-separated keys are added to `apiKeys`. */
  apiKeysEnv: EnvNameSchema.default(DEFAULT_API_KEYS_ENV),
  /** Larger request bodies are refused with 413. */
  bodyLimitBytes: z.int().positive().default(DEFAULT_BODY_LIMIT_BYTES),
  /** Browser origins allowed to call the gateway; empty: no CORS headers at all. */
  corsOrigins: z.array(CorsOriginSchema).default(() => []),
  rateLimit: z
    .strictObject({
      /** Per API key (per client address without keys); 0 turns the limit off. Over it: 429 + retry-after. */
      requestsPerMinute: z.int().min(0).default(0),
      /** How many requests a key may make at once (the bucket size); absent: requestsPerMinute. */
      burst: z.int().positive().optional(),
    })
    .prefault({}),
  /** On SIGTERM/SIGINT, how long streams in flight may take to finish before they are cut. */
  shutdownGraceMs: z.int().min(0).default(DEFAULT_SHUTDOWN_GRACE_MS),
  /** SSE `ping` events on idle streams keep proxies from closing them; 0 sends none. */
  pingIntervalMs: z.int().min(0).default(DEFAULT_PING_INTERVAL_MS),
  /**
   * Whether a streamed Anthropic answer may pass the upstream's SSE text through (decoded only
   * when something goes wrong); false runs every stream through the full relay.
   */
  passThrough: z.boolean().default(true),
  /** Connections waiting to be accepted while the gateway is busy; the kernel caps it at somaxconn. */
  listenBacklog: z.int().min(1).max(65_535).default(DEFAULT_LISTEN_BACKLOG),
  /** The least severe log lines written; `info` has a line per request, `warn` only failures. */
  logLevel: LogLevelSchema.default('info'),
  /**
   * Processes serving requests on the one port (node:cluster). One process uses one core; more
   * spread the streams over the machine's cores, with metrics and rate limits kept as one.
   */
  workers: WorkersSchema.default(1),
  ...SERVER_LIMITS_SHAPE,
});

const PROVIDER_SETTINGS: readonly ProviderSetting[] = ['apiKeyEnv', 'baseURL', 'headers', 'pacing'];

const ProviderTypeSchema = z.string().transform((type, ctx) => {
  const kind = providerKind(type);
  if (kind !== undefined) return kind.kind;
  const names = [...PROVIDER_KIND_NAMES].sort().map((name) => `"${name}"`);
  ctx.addIssue({ code: 'custom', message: `expected one of ${names.join('|')}` });
  return z.NEVER;
});

const ProviderSchema = z
  .strictObject({
    /** A provider kind (PROVIDER_KINDS) by its name or an alias; the name once loaded. */
    type: ProviderTypeSchema,
    /**
     * The NAME of the variable holding the key; never the key itself. Absent: the type's
     * standard variable (ANTHROPIC_API_KEY, OPENAI_API_KEY) when `baseURL` is absent too,
     * else no key, so a key meant for api.openai.com is never sent to another server.
     */
    apiKeyEnv: EnvNameSchema.optional(),
    baseURL: HttpUrlSchema.optional(),
    /** Sent with every request (e.g. `anthropic-beta`); not for secrets, which belong in the environment. */
    headers: z.record(z.string(), z.string()).optional(),
    /** The simulated model's speed. */
    pacing: z
      .strictObject({ ttftMs: MillisecondsSchema.optional(), tokensPerSecond: z.number().min(0).optional() })
      .optional(),
  })
  .superRefine((provider, ctx) => {
    // Each kind's descriptor lists the settings it uses; the others are mistakes worth naming.
    const kind = providerKind(provider.type);
    if (kind === undefined) return;
    for (const setting of PROVIDER_SETTINGS) {
      if (provider[setting] === undefined || kind.settings.includes(setting)) continue;
      const takers = PROVIDER_KINDS.filter((other) => other.settings.includes(setting));
      const message =
        takers.length === 1
          ? `only for providers of type '${takers[0]!.kind}'`
          : `not used by providers of type '${kind.kind}'`;
      ctx.addIssue({ code: 'custom', path: [setting], message });
    }
  });

const ResilienceSchema = z.strictObject({
  maxRetries: z.int().min(0).optional(),
  initialDelayMs: MillisecondsSchema.optional(),
  maxDelayMs: MillisecondsSchema.optional(),
  maxRetryAfterMs: MillisecondsSchema.optional(),
  /** The idle timeout: no event for this long and the stream counts as dropped. 0 disables. */
  idleTimeoutMs: MillisecondsSchema.optional(),
  /** The total timeout of one call, retries included. 0 disables. */
  deadlineMs: MillisecondsSchema.optional(),
  resume: z.boolean().optional(),
  retryableStatuses: z.array(z.int().min(100).max(599, 'expected an HTTP status from 100 to 599')).optional(),
}) satisfies z.ZodType<Partial<ResiliencePolicy>>;

const RouteSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME, NAME_EXPECTED)
    .refine((name) => name !== NOT_DEFINED, `${NOT_DEFINED} is reserved for "no route fits"`),
  /** What the route is for: the `llm` classifier chooses by it. */
  description: z.string().min(1).optional(),
  /** Words or phrases; the `rules` classifier picks the route when the request contains one. */
  keywords: z.array(z.string().trim().min(1)).optional(),
  /** Regular expression sources (case-insensitive); the `rules` classifier picks the route on a match. */
  patterns: z.array(RegexSourceSchema).optional(),
  /** provider:model or alias; absent: the default model. */
  model: ModelNameSchema.optional(),
  system: z.string().optional(),
  maxTokens: z.int().positive().optional(),
});

const ClassifierSchema = z
  .strictObject({
    /** `rules`: keywords and patterns, in route order. `llm`: a model picks a route name with a forced tool call. */
    type: z.enum(['rules', 'llm']).default('rules'),
    /** The model that classifies (`llm` only); absent: the default model. */
    model: ModelNameSchema.optional(),
  })
  .superRefine((classifier, ctx) => {
    if (classifier.type !== 'llm' && classifier.model !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: "only for the 'llm' classifier" });
    }
  });

const RoutesSchema = z
  .strictObject({
    classifier: ClassifierSchema.prefault({}),
    /** The answer when the classifier says NOT_DEFINED. */
    fallbackText: z.string().min(1).default(DEFAULT_FALLBACK_TEXT),
    /** No definitions: every request goes to the default model. */
    definitions: z.array(RouteSchema).default(() => []),
  })
  .superRefine((routes, ctx) => {
    const seen = new Set<string>();
    routes.definitions.forEach((route, index) => {
      if (seen.has(route.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['definitions', index, 'name'],
          message: `duplicate route name '${route.name}'`,
        });
      }
      seen.add(route.name);
    });
  });

export const GatewayConfigSchema = z.strictObject({
  server: ServerSchema.prefault({}),
  /** provider:model or alias; absent: SLUICE_MODEL, else Anthropic when ANTHROPIC_API_KEY is set, else sim:default. */
  defaultModel: ModelNameSchema.optional(),
  /** Providers by name, used as the prefix of provider:model; `sim`, `anthropic` and `openai` exist without configuration. */
  providers: z.record(ProviderNameSchema, ProviderSchema).default(() => ({})),
  /** alias → provider:model (or another alias). */
  aliases: z.record(AliasNameSchema, ModelNameSchema).default(() => ({})),
  /** model or alias → models tried in order when it fails before its first byte. */
  fallbacks: z.record(ModelNameSchema, z.array(ModelNameSchema).min(1)).default(() => ({})),
  /** Over DEFAULT_POLICY (`resolvePolicy(config.resilience)`). */
  resilience: ResilienceSchema.prefault({}),
  routes: RoutesSchema.prefault({}),
  /** The stream log every streamed answer is written to, so a client can resume it. */
  streams: StreamsConfigSchema.prefault({}),
  /** Keys, budgets and the ledger: `sqlite:PATH` or `postgres://…`; absent: the default SQLite file when it exists. */
  database: DatabaseUrlSchema.optional(),
  /** USD per million tokens, per provider:model or alias, over the built-in table. */
  prices: PricesSchema.default(() => ({})),
  /** `/v1/responses`: how long a stored response is kept (default: 30 days in Redis, 1 hour in memory). */
  responses: z.strictObject({ ttlSeconds: z.number().int().positive().optional() }).prefault({}),
});

/** What a configuration file may contain. */
export type GatewayConfigFile = z.input<typeof GatewayConfigSchema>;
/** A loaded configuration: every default filled in, `defaultModel` resolved. */
export type GatewayConfig = z.output<typeof GatewayConfigSchema> & { defaultModel: string };
export type ServerConfig = GatewayConfig['server'];
export type ProviderConfig = GatewayConfig['providers'][string];
export type RoutesConfig = GatewayConfig['routes'];
export type RouteDefinition = RoutesConfig['definitions'][number];

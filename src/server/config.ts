import { readFileSync } from 'node:fs';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { zodIssueLines } from '../protocol/zod-errors.ts';
import type { ProviderSetting } from '../providers/descriptor.ts';
import { builtInKind, PROVIDER_KIND_NAMES, PROVIDER_KINDS, providerKind } from '../providers/kinds.ts';
import { defaultModel as registryDefaultModel } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { DEFAULT_FAILED_KEY_LIMIT, DEFAULT_TIMEOUTS } from './limits.ts';

/*
 * The gateway's configuration: one JSON file (optional), then environment variables, then
 * command-line flags, each layer winning over the one before.
 *
 *   file          --config <path>, else SLUICE_CONFIG; no file at all → every default
 *   environment   SLUICE_HOST, SLUICE_PORT, SLUICE_API_KEYS (the variable named by
 *                 server.apiKeysEnv; comma-separated, added to server.apiKeys), SLUICE_MODEL,
 *                 SLUICE_RATE_LIMIT_RPM, SLUICE_BODY_LIMIT (bytes), SLUICE_LOG_LEVEL. Empty
 *                 values count as unset.
 *   command line  --host, --port
 *
 * Objects are strict: an unknown key is an error, because a misspelt key that is silently
 * ignored leaves a setting at its default while its author believes it is set.
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
const MODEL_REF = /^[A-Za-z][A-Za-z0-9_-]*:\S+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const EnvNameSchema = z
  .string()
  .regex(ENV_NAME, 'expected the NAME of an environment variable (such as ANTHROPIC_API_KEY), not a value');
const ProviderNameSchema = z.string().regex(NAME, NAME_EXPECTED);
const AliasNameSchema = z
  .string()
  .regex(ALIAS, "expected an alias name (letters, digits, '_', '-', '.'; no colon)");
/** `provider:model`, or the name of an alias. */
const ModelNameSchema = z
  .string()
  .refine(
    (value) => MODEL_REF.test(value) || ALIAS.test(value),
    'expected provider:model (such as anthropic:claude-sonnet-4-5) or an alias',
  );
const MillisecondsSchema = z.number().min(0, 'expected a duration in milliseconds, 0 or more');
const PortSchema = z.int().min(0).max(65535, 'expected a port from 0 to 65535');
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
const LogLevelSchema = z.enum(LOG_LEVELS);

const MAX_WORKERS = 64;
const WorkersSchema = z.int().min(1).max(MAX_WORKERS);

// ── server limits: request timeouts, connections per address, failed keys, Host check ──────
// (server.headersTimeoutMs … server.allowedHosts; defaults in limits.ts, listed in the README's
// "Behaviour in production"; environment overrides in applyServerLimitsEnv)

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

/** SLUICE_HEADERS_TIMEOUT_MS, SLUICE_BODY_TIMEOUT_MS, SLUICE_REQUEST_TIMEOUT_MS, SLUICE_KEEP_ALIVE_TIMEOUT_MS, SLUICE_MAX_CONNECTIONS_PER_ADDRESS, SLUICE_ALLOWED_HOSTS (comma-separated, added). */
function applyServerLimitsEnv<S extends ServerLimits>(server: S, env: Env, issues: string[]): S {
  const ms = (name: string, min: number) =>
    parseEnvInteger(env, name, z.int().min(min), `milliseconds, an integer from ${min}`, issues);
  const headers = ms('SLUICE_HEADERS_TIMEOUT_MS', 1);
  const body = ms('SLUICE_BODY_TIMEOUT_MS', 0);
  const request = ms('SLUICE_REQUEST_TIMEOUT_MS', 0);
  const keepAlive = ms('SLUICE_KEEP_ALIVE_TIMEOUT_MS', 1);
  const connections = parseEnvInteger(
    env,
    'SLUICE_MAX_CONNECTIONS_PER_ADDRESS',
    z.int().min(0),
    'a number of connections, an integer (0 = no limit)',
    issues,
  );
  const hosts = splitKeys(envValue(env, 'SLUICE_ALLOWED_HOSTS'));
  return {
    ...server,
    headersTimeoutMs: headers ?? server.headersTimeoutMs,
    bodyTimeoutMs: body ?? server.bodyTimeoutMs,
    requestTimeoutMs: request ?? server.requestTimeoutMs,
    keepAliveTimeoutMs: keepAlive ?? server.keepAliveTimeoutMs,
    maxConnectionsPerAddress: connections ?? server.maxConnectionsPerAddress,
    allowedHosts: [...new Set([...server.allowedHosts, ...hosts])],
  };
}

type ServerLimits = { [K in keyof typeof SERVER_LIMITS_SHAPE]: z.infer<(typeof SERVER_LIMITS_SHAPE)[K]> };

// ── end of server limits ───────────────────────────────────────────────────────────────────

const ServerSchema = z.strictObject({
  /** Where to listen. A non-loopback host needs API keys, or `--insecure`. */
  host: z.string().min(1).default(DEFAULT_HOST),
  /** 0 picks a free port. */
  port: PortSchema.default(DEFAULT_PORT),
  /** Keys callers present (`x-api-key` or `Authorization: Bearer`). Empty: no authentication. */
  apiKeys: z.array(z.string().min(1)).default(() => []),
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
});

/** What a configuration file may contain. */
export type GatewayConfigFile = z.input<typeof GatewayConfigSchema>;
/** A loaded configuration: every default filled in, `defaultModel` resolved. */
export type GatewayConfig = z.output<typeof GatewayConfigSchema> & { defaultModel: string };
export type ServerConfig = GatewayConfig['server'];
export type ProviderConfig = GatewayConfig['providers'][string];
export type RoutesConfig = GatewayConfig['routes'];
export type RouteDefinition = RoutesConfig['definitions'][number];

// ── errors ─────────────────────────────────────────────────────────────────────────────────

/** A configuration the gateway refuses to start with. A startup error, not an API error. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /** Each problem as `path.to.field: what was expected`. */
  readonly issues: readonly string[];

  constructor(message: string, issues: readonly string[] = []) {
    super(message);
    this.issues = issues;
  }
}

const MAX_LISTED_ISSUES = 5;

function invalidConfig(source: string, issues: readonly string[]): ConfigError {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => `  ${issue}`);
  if (issues.length > MAX_LISTED_ISSUES) listed.push(`  …and ${issues.length - MAX_LISTED_ISSUES} more`);
  return new ConfigError(`${source}: invalid configuration\n${listed.join('\n')}`, issues);
}

// ── reading the file ───────────────────────────────────────────────────────────────────────

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    throw new ConfigError(`${path}: cannot read the configuration file (${reason})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: invalid JSON: ${jsonErrorText((error as Error).message, text)}`);
  }
}

/** V8's message, with the line and column added when it gives only a position. */
function jsonErrorText(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position === undefined || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}

// ── overrides ──────────────────────────────────────────────────────────────────────────────

type Env = Record<string, string | undefined>;
type ParsedConfig = z.output<typeof GatewayConfigSchema>;

/** Command-line values that win over the file and the environment. */
export interface ConfigOverrides {
  host?: string;
  port?: number;
  workers?: number;
}

/** An environment variable, with an empty value treated as unset (as `FOO=` in compose files). */
function envValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function parseEnvInteger(
  env: Env,
  name: string,
  schema: z.ZodType<number>,
  expected: string,
  issues: string[],
): number | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  // Number() would take '0x10' and '1e3'; a setting in an environment should be plain digits.
  const result = schema.safeParse(/^\d+$/.test(value) ? Number(value) : Number.NaN);
  if (result.success) return result.data;
  issues.push(`${name}: expected ${expected}, got '${value}'`);
  return undefined;
}

function splitKeys(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
}

function applyEnvOverrides(config: ParsedConfig, env: Env): ParsedConfig {
  const issues: string[] = [];
  const host = envValue(env, 'SLUICE_HOST');
  const port = parseEnvInteger(env, 'SLUICE_PORT', PortSchema, 'an integer from 0 to 65535', issues);
  const rpm = parseEnvInteger(
    env,
    'SLUICE_RATE_LIMIT_RPM',
    z.int().min(0),
    'requests per minute, an integer (0 = no limit)',
    issues,
  );
  const bodyLimit = parseEnvInteger(
    env,
    'SLUICE_BODY_LIMIT',
    z.int().positive(),
    'a size in bytes, an integer above 0',
    issues,
  );
  const workers = parseEnvInteger(
    env,
    'SLUICE_WORKERS',
    WorkersSchema,
    `a number of processes, an integer from 1 to ${MAX_WORKERS}`,
    issues,
  );
  const rawLogLevel = envValue(env, 'SLUICE_LOG_LEVEL');
  const logLevel = rawLogLevel === undefined ? undefined : LogLevelSchema.safeParse(rawLogLevel).data;
  if (rawLogLevel !== undefined && logLevel === undefined) {
    issues.push(`SLUICE_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got '${rawLogLevel}'`);
  }
  const model = envValue(env, 'SLUICE_MODEL');
  if (model !== undefined && !ModelNameSchema.safeParse(model).success) {
    issues.push(`SLUICE_MODEL: expected provider:model (such as sim:default) or an alias, got '${model}'`);
  }
  const server = applyServerLimitsEnv(config.server, env, issues);
  if (issues.length > 0) throw invalidConfig('environment', issues);

  const envKeys = splitKeys(envValue(env, server.apiKeysEnv));
  return {
    ...config,
    defaultModel: model ?? config.defaultModel,
    server: {
      ...server,
      host: host ?? server.host,
      port: port ?? server.port,
      apiKeys: [...new Set([...server.apiKeys, ...envKeys])],
      bodyLimitBytes: bodyLimit ?? server.bodyLimitBytes,
      rateLimit: { ...server.rateLimit, requestsPerMinute: rpm ?? server.rateLimit.requestsPerMinute },
      logLevel: logLevel ?? server.logLevel,
      workers: workers ?? server.workers,
    },
  };
}

function applyCliOverrides(config: ParsedConfig, overrides: ConfigOverrides): ParsedConfig {
  const issues: string[] = [];
  if (overrides.host !== undefined && overrides.host.trim() === '')
    issues.push('--host: expected a host name');
  if (overrides.port !== undefined && !PortSchema.safeParse(overrides.port).success) {
    issues.push(`--port: expected an integer from 0 to 65535, got '${overrides.port}'`);
  }
  if (overrides.workers !== undefined && !WorkersSchema.safeParse(overrides.workers).success) {
    issues.push(`--workers: expected an integer from 1 to ${MAX_WORKERS}, got '${overrides.workers}'`);
  }
  if (issues.length > 0) throw invalidConfig('command line', issues);
  return {
    ...config,
    server: {
      ...config.server,
      host: overrides.host ?? config.server.host,
      port: overrides.port ?? config.server.port,
      workers: overrides.workers ?? config.server.workers,
    },
  };
}

// ── references between sections ────────────────────────────────────────────────────────────

/** Provider names usable as a `provider:` prefix: the built-in ones and the configured ones. */
export function knownProviders(config: Pick<GatewayConfig, 'providers'>): string[] {
  return [...new Set([...PROVIDER_KIND_NAMES, ...Object.keys(config.providers)])];
}

/** A model name with its aliases followed: `fast` → `ollama:llama3.2:3b`. Unchanged when not an alias. */
export function resolveAlias(config: Pick<GatewayConfig, 'aliases'>, name: string): string {
  let current = name;
  const seen = new Set<string>();
  while (Object.hasOwn(config.aliases, current) && !seen.has(current)) {
    seen.add(current);
    current = config.aliases[current] ?? current;
  }
  return current;
}

/** Every place a model is named, with its path, for the reference checks and the key warnings. */
function modelReferences(config: GatewayConfig, defaultModelPath: string): Array<[string, string]> {
  const references: Array<[string, string]> = [[defaultModelPath, config.defaultModel]];
  for (const [alias, target] of Object.entries(config.aliases)) references.push([`aliases.${alias}`, target]);
  for (const [model, list] of Object.entries(config.fallbacks)) {
    references.push([`fallbacks.${model}`, model]);
    list.forEach((fallback, index) => {
      references.push([`fallbacks.${model}.${index}`, fallback]);
    });
  }
  const { classifier, definitions } = config.routes;
  if (classifier.model !== undefined) references.push(['routes.classifier.model', classifier.model]);
  definitions.forEach((route, index) => {
    if (route.model !== undefined) references.push([`routes.definitions.${index}.model`, route.model]);
  });
  return references;
}

/** Each alias cycle once, named from its first member in file order. */
function aliasCycleIssues(config: GatewayConfig): string[] {
  const issues: string[] = [];
  const reported = new Set<string>();
  for (const start of Object.keys(config.aliases)) {
    if (reported.has(start)) continue;
    const chain = [start];
    let current = config.aliases[start];
    while (current !== undefined && Object.hasOwn(config.aliases, current)) {
      if (current === start) {
        issues.push(`aliases.${start}: alias cycle ${[...chain, start].join(' → ')}`);
        for (const member of chain) reported.add(member);
        break;
      }
      if (chain.includes(current)) break; // a cycle further on, reported from its own members
      chain.push(current);
      current = config.aliases[current];
    }
  }
  return issues;
}

function referenceIssues(config: GatewayConfig, defaultModelPath: string): string[] {
  const known = knownProviders(config);
  const issues: string[] = [];
  for (const [path, name] of modelReferences(config, defaultModelPath)) {
    if (MODEL_REF.test(name)) {
      const provider = name.slice(0, name.indexOf(':'));
      if (!known.includes(provider)) {
        issues.push(
          `${path}: unknown provider '${provider}' in '${name}'; expected one of ${known.join(', ')}`,
        );
      }
    } else if (!Object.hasOwn(config.aliases, name)) {
      issues.push(`${path}: '${name}' is neither provider:model nor a configured alias`);
    }
  }
  for (const [model, list] of Object.entries(config.fallbacks)) {
    const target = resolveAlias(config, model);
    const self = list.findIndex((fallback) => resolveAlias(config, fallback) === target);
    if (self >= 0) issues.push(`fallbacks.${model}.${self}: a model cannot be its own fallback`);
  }
  return [...aliasCycleIssues(config), ...issues];
}

// ── warnings ───────────────────────────────────────────────────────────────────────────────

/**
 * The environment variable holding a configured provider's key: `apiKeyEnv`, else the type's
 * standard variable unless `baseURL` points elsewhere (then none: a key is never sent to a
 * server it was not issued for).
 */
export function providerApiKeyEnv(provider: ProviderConfig): string | undefined {
  if (provider.apiKeyEnv !== undefined) return provider.apiKeyEnv;
  return provider.baseURL === undefined ? providerKind(provider.type)?.env.apiKey : undefined;
}

/** A key the gateway will need that is not set. A warning, not an error: it may be set before the first call. */
function missingKeyWarning(config: GatewayConfig, name: string, env: Env): string | undefined {
  const configured = config.providers[name];
  if (configured) {
    const keyEnv = providerApiKeyEnv(configured);
    if (keyEnv === undefined || envValue(env, keyEnv) !== undefined) return undefined;
    return `providers.${name}: ${keyEnv} is not set; calls to ${name}: models will fail until it is`;
  }
  const keyEnv = builtInKind(name)?.env.apiKey;
  // The built-in openai provider talks to a local server without a key when OPENAI_BASE_URL is set.
  if (keyEnv === undefined || envValue(env, keyEnv) !== undefined) return undefined;
  if (name === 'openai' && envValue(env, 'OPENAI_BASE_URL') !== undefined) return undefined;
  return `${keyEnv} is not set; calls to ${name}: models will fail until it is`;
}

function routeWarnings(routes: RoutesConfig): string[] {
  const warnings: string[] = [];
  routes.definitions.forEach((route, index) => {
    const path = `routes.definitions.${index}`;
    const unmatchable = (route.keywords ?? []).length === 0 && (route.patterns ?? []).length === 0;
    if (routes.classifier.type === 'rules' && unmatchable) {
      warnings.push(
        `${path}: route '${route.name}' has no keywords or patterns, so the rules classifier never picks it`,
      );
    }
    if (routes.classifier.type === 'llm' && route.description === undefined) {
      warnings.push(
        `${path}: route '${route.name}' has no description; the llm classifier sees only its name`,
      );
    }
  });
  return warnings;
}

function collectWarnings(config: GatewayConfig, env: Env): string[] {
  const used = new Set<string>();
  for (const [, name] of modelReferences(config, 'defaultModel')) {
    const resolved = resolveAlias(config, name);
    if (MODEL_REF.test(resolved)) used.add(resolved.slice(0, resolved.indexOf(':')));
  }
  const keyWarnings = [...used].map((name) => missingKeyWarning(config, name, env));
  return [...keyWarnings.filter((warning) => warning !== undefined), ...routeWarnings(config.routes)];
}

// ── loading ────────────────────────────────────────────────────────────────────────────────

/** Where `loadConfig` reads from: the file, the environment, the command line. */
export interface LoadConfigOptions {
  /** The configuration file (`--config`); absent: SLUICE_CONFIG; neither: defaults only. */
  path?: string;
  /** Defaults to `process.env`. */
  env?: Env;
  /** Command-line flags; they win over the file and the environment. */
  overrides?: ConfigOverrides;
}

/** What `loadConfig` returns: the configuration, warnings worth logging, and the file read. */
export interface LoadedConfig {
  config: GatewayConfig;
  /** Problems worth a line in the log that do not stop the gateway (an unset key variable, an unreachable route). */
  warnings: string[];
  /** The absolute path of the file read; undefined when running on defaults. */
  path: string | undefined;
}

/**
 * The gateway's configuration: the file, then the environment, then the command line.
 * Throws `ConfigError` naming every bad field; returns warnings beside the configuration.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const given = options.path ?? envValue(env, 'SLUICE_CONFIG');
  const path = given === undefined ? undefined : resolve(given);
  const source = path ?? 'configuration';

  const parsed = GatewayConfigSchema.safeParse(path === undefined ? {} : readConfigFile(path));
  if (!parsed.success)
    throw invalidConfig(
      source,
      zodIssueLines(parsed.error, { root: '(top level)', schema: GatewayConfigSchema }),
    );

  const merged = applyCliOverrides(applyEnvOverrides(parsed.data, env), options.overrides ?? {});
  const config: GatewayConfig = { ...merged, defaultModel: merged.defaultModel ?? registryDefaultModel(env) };

  const fromEnv = envValue(env, 'SLUICE_MODEL') !== undefined;
  const issues = referenceIssues(config, fromEnv ? 'defaultModel (SLUICE_MODEL)' : 'defaultModel');
  if (issues.length > 0) throw invalidConfig(source, issues);
  return { config, warnings: collectWarnings(config, env), path };
}

// ── binding ────────────────────────────────────────────────────────────────────────────────

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether only this machine can reach `host`: 127.0.0.0/8, ::1 (any spelling) or localhost. */
export function isLoopback(host: string): boolean {
  const bare = host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return LOOPBACK.check(bare, 'ipv4');
  // BlockList also matches IPv4-mapped addresses (::ffff:127.0.0.1) against the IPv4 rule.
  if (isIPv6(bare)) return LOOPBACK.check(bare, 'ipv6');
  return false; // any other name may resolve to a public address
}

/**
 * Refuses to serve other machines without authentication: every caller would spend the
 * providers' keys. `--insecure` is the explicit way to do it anyway (e.g. behind a proxy that authenticates).
 */
export function assertSafeBinding(config: GatewayConfig, options: { insecure?: boolean } = {}): void {
  const { host, apiKeys, apiKeysEnv } = config.server;
  if (options.insecure || apiKeys.length > 0 || isLoopback(host)) return;
  throw new ConfigError(
    `Listening on ${host} without API keys would let anyone use your providers' keys; set ${apiKeysEnv} or pass --insecure`,
  );
}

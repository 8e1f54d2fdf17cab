import { z } from 'zod/v4';
import { DATABASE_ENV, isDatabaseUrl } from '../store/open.ts';
import { STREAM_STORE_ENV, STREAM_STORE_FLAG, StreamStoreSchema } from '../streams/config.ts';
import { invalidConfig } from './errors.ts';
import {
  DEFAULT_API_KEYS_ENV,
  type GatewayConfigSchema,
  LOG_LEVELS,
  LogLevelSchema,
  MAX_WORKERS,
  ModelNameSchema,
  PortSchema,
  WorkersSchema,
} from './schema.ts';

/*
 * The layers over the configuration file: environment variables, then command-line flags,
 * each winning over the one before. OVERRIDES is the one list of them; the loader applies
 * it, and a test holds the README's list of overrides to it (both ways).
 */

export type Env = Record<string, string | undefined>;
export type ParsedConfig = z.output<typeof GatewayConfigSchema>;

/** Command-line values that win over the file and the environment (the flags of `sluice serve`). */
export interface ConfigOverrides {
  host?: string;
  port?: number;
  workers?: number;
  /** `--stream-store`: `memory` or a redis:// URL. */
  'stream-store'?: string;
}

/** A value read from the environment or the command line, or what was expected instead. */
type Parsed = { ok: true; value: unknown } | { ok: false; expected: string };

export interface Override {
  /** The environment variable (for `server.apiKeys`, its default name: `server.apiKeysEnv` renames it). */
  env: string;
  /** The flag of `sluice serve`, when there is one. */
  flag?: `--${keyof ConfigOverrides}` | '--config';
  /** Where the value goes in the configuration; none for SLUICE_CONFIG, which names the file itself. */
  path: string | undefined;
  /** An environment value (trimmed, never empty) as the setting, or what was expected. */
  parseEnv?: (value: string) => Parsed;
  /** A flag's value as the setting, or what was expected. */
  parseFlag?: (value: string | number) => Parsed;
  /** How the value joins what the file says; absent: it replaces it. */
  combine?: (fromFile: unknown, value: unknown) => unknown;
}

const PORT_EXPECTED = 'an integer from 0 to 65535';
const WORKERS_EXPECTED = `an integer from 1 to ${MAX_WORKERS}`;

/** Every override, in the order their problems are listed. */
export const OVERRIDES: readonly Override[] = [
  { env: 'SLUICE_CONFIG', flag: '--config', path: undefined },
  {
    env: 'SLUICE_HOST',
    flag: '--host',
    path: 'server.host',
    parseEnv: (value) => ({ ok: true, value }),
    parseFlag: (value) =>
      String(value).trim() === '' ? { ok: false, expected: 'a host name' } : { ok: true, value },
  },
  {
    env: 'SLUICE_PORT',
    flag: '--port',
    path: 'server.port',
    parseEnv: integer(PortSchema, PORT_EXPECTED),
    parseFlag: typed(PortSchema, PORT_EXPECTED),
  },
  {
    env: 'SLUICE_RATE_LIMIT_RPM',
    path: 'server.rateLimit.requestsPerMinute',
    parseEnv: integer(z.int().min(0), 'requests per minute, an integer (0 = no limit)'),
  },
  {
    env: 'SLUICE_BODY_LIMIT',
    path: 'server.bodyLimitBytes',
    parseEnv: integer(z.int().positive(), 'a size in bytes, an integer above 0'),
  },
  {
    env: 'SLUICE_LOG_LEVEL',
    path: 'server.logLevel',
    parseEnv: (value) =>
      LogLevelSchema.safeParse(value).success
        ? { ok: true, value }
        : { ok: false, expected: `one of ${LOG_LEVELS.join(', ')}` },
  },
  {
    env: 'SLUICE_WORKERS',
    flag: '--workers',
    path: 'server.workers',
    parseEnv: integer(WorkersSchema, `a number of processes, ${WORKERS_EXPECTED}`),
    parseFlag: typed(WorkersSchema, WORKERS_EXPECTED),
  },
  {
    env: STREAM_STORE_ENV,
    flag: STREAM_STORE_FLAG,
    path: 'streams.store',
    parseEnv: streamStore,
    parseFlag: (value) => streamStore(String(value)),
  },
  {
    env: 'SLUICE_MODEL',
    path: 'defaultModel',
    parseEnv: (value) =>
      ModelNameSchema.safeParse(value).success
        ? { ok: true, value }
        : { ok: false, expected: 'provider:model (such as sim:default) or an alias' },
  },
  ...(
    [
      ['SLUICE_HEADERS_TIMEOUT_MS', 'server.headersTimeoutMs', 1],
      ['SLUICE_BODY_TIMEOUT_MS', 'server.bodyTimeoutMs', 0],
      ['SLUICE_REQUEST_TIMEOUT_MS', 'server.requestTimeoutMs', 0],
      ['SLUICE_KEEP_ALIVE_TIMEOUT_MS', 'server.keepAliveTimeoutMs', 1],
    ] as const
  ).map(([env, path, min]) => ({
    env,
    path,
    parseEnv: integer(z.int().min(min), `milliseconds, an integer from ${min}`),
  })),
  {
    env: 'SLUICE_MAX_CONNECTIONS_PER_ADDRESS',
    path: 'server.maxConnectionsPerAddress',
    parseEnv: integer(z.int().min(0), 'a number of connections, an integer (0 = no limit)'),
  },
  {
    env: 'SLUICE_ALLOWED_HOSTS',
    path: 'server.allowedHosts',
    parseEnv: (value) => ({ ok: true, value: splitKeys(value) }),
    combine: (fromFile, value) => [...new Set([...(fromFile as string[]), ...(value as string[])])],
  },
  {
    env: 'SLUICE_METRICS_KEY',
    path: 'server.metricsKey',
    parseEnv: (value) => ({ ok: true, value }),
  },
  {
    env: 'SLUICE_ADMIN_KEY',
    path: 'server.adminKey',
    parseEnv: (value) => ({ ok: true, value }),
  },
  {
    env: DATABASE_ENV,
    path: 'database',
    parseEnv: (value) =>
      isDatabaseUrl(value)
        ? { ok: true, value }
        : { ok: false, expected: 'sqlite:PATH or a postgres:// URL' },
  },
  {
    env: DEFAULT_API_KEYS_ENV,
    path: 'server.apiKeys',
    parseEnv: (value) => ({ ok: true, value: splitKeys(value) }),
    combine: (fromFile, value) => [...new Set([...(fromFile as string[]), ...(value as string[])])],
  },
];

/** An environment variable, with an empty value treated as unset (as `FOO=` in compose files). */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** The environment's layer over the file's configuration; a ConfigError naming each bad variable. */
export function applyEnvOverrides(config: ParsedConfig, env: Env): ParsedConfig {
  const issues: string[] = [];
  let result = config;
  for (const override of OVERRIDES) {
    if (override.path === undefined || override.parseEnv === undefined) continue;
    const name = override.env === DEFAULT_API_KEYS_ENV ? config.server.apiKeysEnv : override.env;
    const raw = envValue(env, name);
    if (raw === undefined) continue;
    const parsed = override.parseEnv(raw);
    if (parsed.ok) result = withValue(result, override, parsed.value);
    else issues.push(`${name}: expected ${parsed.expected}, got '${raw}'`);
  }
  if (issues.length > 0) throw invalidConfig('environment', issues);
  return result;
}

/** The command line's layer over the others. */
export function applyCliOverrides(config: ParsedConfig, overrides: ConfigOverrides): ParsedConfig {
  const issues: string[] = [];
  let result = config;
  for (const override of OVERRIDES) {
    if (override.flag === undefined || override.parseFlag === undefined) continue;
    const given = overrides[override.flag.slice(2) as keyof ConfigOverrides];
    if (given === undefined) continue;
    const parsed = override.parseFlag(given);
    if (parsed.ok) result = withValue(result, override, parsed.value);
    else issues.push(`${override.flag}: expected ${parsed.expected}${gotText(override, given)}`);
  }
  if (issues.length > 0) throw invalidConfig('command line', issues);
  return result;
}

// A blank host has nothing worth quoting back.
function gotText(override: Override, given: string | number): string {
  return override.flag === '--host' ? '' : `, got '${given}'`;
}

/** A copy of `config` with the override's value at its path (objects along it copied, not changed). */
function withValue(config: ParsedConfig, override: Override, value: unknown): ParsedConfig {
  const keys = (override.path ?? '').split('.');
  const set = (node: Record<string, unknown>, depth: number): Record<string, unknown> => {
    const key = keys[depth] as string;
    if (depth === keys.length - 1) {
      return { ...node, [key]: override.combine ? override.combine(node[key], value) : value };
    }
    return { ...node, [key]: set(node[key] as Record<string, unknown>, depth + 1) };
  };
  return set(config as Record<string, unknown>, 0) as ParsedConfig;
}

/** Plain digits within the schema: Number() would take '0x10' and '1e3', which a setting should not be. */
function integer(schema: z.ZodType<number>, expected: string): (value: string) => Parsed {
  return (value) => {
    const result = schema.safeParse(/^\d+$/.test(value) ? Number(value) : Number.NaN);
    return result.success ? { ok: true, value: result.data } : { ok: false, expected };
  };
}

/** A flag's value, already a number when commander parsed it as one. */
function typed(schema: z.ZodType<number>, expected: string): (value: string | number) => Parsed {
  return (value) => {
    const result = schema.safeParse(value);
    return result.success ? { ok: true, value: result.data } : { ok: false, expected };
  };
}

function streamStore(value: string): Parsed {
  return StreamStoreSchema.safeParse(value).success
    ? { ok: true, value }
    : { ok: false, expected: '"memory" or a redis://host:port/db URL' };
}

function splitKeys(value: string): string[] {
  return value
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
}

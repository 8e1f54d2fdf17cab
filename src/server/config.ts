/*
 * The gateway's configuration, one file per role under config/: the schema (schema.ts), the
 * environment and command-line layers (overrides.ts), the file (file.ts), the checks
 * between sections (references.ts), warnings
 * (warnings.ts), loading (load.ts) and the refusal to serve other machines without keys
 * (bind-safety.ts). This file is where the rest of the gateway imports them from.
 */

export { assertSafeBinding, isLoopback } from './config/bind-safety.ts';
export { ConfigError } from './config/errors.ts';
export { type LoadConfigOptions, type LoadedConfig, loadConfig } from './config/load.ts';
export { type ConfigOverrides, OVERRIDES, type Override } from './config/overrides.ts';
export { configuredModels, knownProviders, resolveAlias } from './config/references.ts';
export {
  compileRoutePattern,
  DEFAULT_API_KEYS_ENV,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_FALLBACK_TEXT,
  DEFAULT_HOST,
  DEFAULT_LISTEN_BACKLOG,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type GatewayConfig,
  type GatewayConfigFile,
  GatewayConfigSchema,
  LOG_LEVELS,
  NOT_DEFINED,
  type ProviderConfig,
  ROUTE_PATTERN_FLAGS,
  type RouteDefinition,
  type RoutesConfig,
  type ServerConfig,
} from './config/schema.ts';
export { providerApiKeyEnv } from './config/warnings.ts';

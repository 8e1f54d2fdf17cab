import { resolve } from 'node:path';
import { zodIssueLines } from '../../protocol/zod-errors.ts';
import { defaultModel as registryDefaultModel } from '../../providers/registry.ts';
import { invalidConfig } from './errors.ts';
import { readConfigFile } from './file.ts';
import {
  applyCliOverrides,
  applyEnvOverrides,
  type ConfigOverrides,
  type Env,
  envValue,
} from './overrides.ts';
import { referenceIssues } from './references.ts';
import { type GatewayConfig, GatewayConfigSchema } from './schema.ts';
import { collectWarnings } from './warnings.ts';

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
  if (!parsed.success) {
    throw invalidConfig(
      source,
      zodIssueLines(parsed.error, { root: '(top level)', schema: GatewayConfigSchema }),
    );
  }

  const merged = applyCliOverrides(applyEnvOverrides(parsed.data, env), options.overrides ?? {});
  const config: GatewayConfig = { ...merged, defaultModel: merged.defaultModel ?? registryDefaultModel(env) };

  const fromEnv = envValue(env, 'SLUICE_MODEL') !== undefined;
  const issues = referenceIssues(config, fromEnv ? 'defaultModel (SLUICE_MODEL)' : 'defaultModel');
  if (issues.length > 0) throw invalidConfig(source, issues);
  return { config, warnings: collectWarnings(config, env), path };
}

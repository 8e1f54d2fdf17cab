import { PROVIDER_KINDS, providerKind } from '../providers/kinds.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { Provider } from '../providers/types.ts';
import { type GatewayConfig, type ProviderConfig, providerApiKeyEnv } from './config.ts';

type Env = Record<string, string | undefined>;

/**
 * The registry a gateway resolves models with: the configured providers by name, each made by
 * its kind's descriptor, and the built-in ones from the environment. Keys are read from the
 * environment variables the configuration names, never from the file.
 */
export function registryFromConfig(config: GatewayConfig, env: Env = process.env): ProviderRegistry {
  const providers: Record<string, Provider> = {};
  for (const [name, provider] of Object.entries(config.providers))
    providers[name] = createProvider(provider, env);
  return new ProviderRegistry({
    env,
    providers,
    defaultModel: config.defaultModel,
    ...builtInRule(config),
  });
}

/**
 * The built-in simulator (`sim:`) answers anyone for free, so a gateway offers it only where
 * it is wanted: when the configuration names no provider (the embedded default), or names one
 * called `sim` itself (e.g. `"sim": {"type": "sim"}`). A configuration naming only real
 * providers gets a 404 for `sim:` models that names them. The library's registry keeps `sim:`.
 */
function builtInRule(config: GatewayConfig): {
  builtIns?: string[];
  withheldReason?: (name: string) => string;
} {
  const configured = Object.keys(config.providers);
  if (configured.length === 0) return {};
  return {
    builtIns: PROVIDER_KINDS.filter((kind) => kind.gatewayBuiltIn === 'always').map((kind) => kind.kind),
    withheldReason: (name) =>
      `on this gateway: its configuration names the providers ${configured.join(', ')} and no '${name}' (add "${name}": {"type": "${name}"} to its providers to offer it)`,
  };
}

function createProvider(provider: ProviderConfig, env: Env): Provider {
  const keyEnv = providerApiKeyEnv(provider);
  const apiKey = keyEnv === undefined ? undefined : env[keyEnv];
  // The configuration's schema accepts only the kinds' names and aliases.
  const kind = providerKind(provider.type)!;
  return kind.fromSettings(
    { apiKey, baseURL: provider.baseURL, headers: provider.headers, pacing: provider.pacing },
    env,
  );
}

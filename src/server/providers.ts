import { createAnthropicProvider } from '../providers/anthropic.ts';
import { createOpenAIProvider } from '../providers/openai/provider.ts';
import { ProviderRegistry, pacingFromEnv } from '../providers/registry.ts';
import { createSimulatedProvider } from '../providers/simulated/provider.ts';
import type { Provider } from '../providers/types.ts';
import { type GatewayConfig, type ProviderConfig, providerApiKeyEnv } from './config.ts';

type Env = Record<string, string | undefined>;

/**
 * The registry a gateway resolves models with: the configured providers by name, and the
 * built-in `sim`, `anthropic` and `openai` from the environment. Keys are read from the
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
    ...simulatorRule(config),
  });
}

/**
 * The built-in simulator (`sim:`) answers anyone for free, so a gateway offers it only where
 * it is wanted: when the configuration names no provider (the embedded default), or names one
 * called `sim` itself (e.g. `"sim": {"type": "sim"}`). A configuration naming only real
 * providers gets a 404 for `sim:` models that names them. The library's registry keeps `sim:`.
 */
function simulatorRule(config: GatewayConfig): { builtIns?: string[]; withheldReason?: string } {
  const configured = Object.keys(config.providers);
  if (configured.length === 0) return {};
  return {
    builtIns: ['anthropic', 'openai'],
    withheldReason: `on this gateway: its configuration names the providers ${configured.join(', ')} and no simulator (add "sim": {"type": "sim"} to its providers to offer one)`,
  };
}

function createProvider(provider: ProviderConfig, env: Env): Provider {
  const keyEnv = providerApiKeyEnv(provider);
  const apiKey = keyEnv === undefined ? undefined : env[keyEnv];
  switch (provider.type) {
    case 'anthropic':
      return createAnthropicProvider({ apiKey, baseURL: provider.baseURL, headers: provider.headers });
    case 'openai':
      return createOpenAIProvider({ apiKey, baseURL: provider.baseURL, headers: provider.headers });
    case 'sim':
      return createSimulatedProvider({ pacing: { ...pacingFromEnv(env), ...provider.pacing } });
  }
}

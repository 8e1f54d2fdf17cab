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
  return new ProviderRegistry({ env, providers, defaultModel: config.defaultModel });
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

/**
 * `sluice/providers`: the providers `Client` resolves `provider:model` strings to, for callers
 * who build or register one themselves. The simulated provider is in `sluice/testing`.
 */

export {
  type AnthropicProviderOptions,
  createAnthropicProvider,
  DEFAULT_ANTHROPIC_VERSION,
} from '../providers/anthropic.ts';
export { createOpenAIProvider, type OpenAIProviderOptions } from '../providers/openai/provider.ts';
export {
  DEFAULT_ANTHROPIC_MODEL,
  DEFAULT_SIM_MODEL,
  defaultModel,
  type ModelRef,
  ProviderRegistry,
  parseModelRef,
} from '../providers/registry.ts';
export type { Provider, ProviderCallOptions, ProviderCapabilities } from '../providers/types.ts';

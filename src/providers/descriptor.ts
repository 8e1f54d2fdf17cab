import type { Provider, ProviderCapabilities } from './types.ts';

type Env = Record<string, string | undefined>;

/** What a configuration file may say about one provider (the gateway's `providers` section). */
export interface ProviderSettings {
  /** The key itself, read by the caller from the variable the configuration names. */
  apiKey?: string;
  baseURL?: string;
  headers?: Record<string, string>;
  pacing?: { ttftMs?: number; tokensPerSecond?: number };
}

/** The settings a configuration may give a provider; each kind accepts some of them. */
export type ProviderSetting = 'apiKeyEnv' | 'baseURL' | 'headers' | 'pacing';

/**
 * One kind of provider, as data: everything the registry, the gateway's configuration and
 * the server need to know about it, in one place. Adding a kind is adding a descriptor to
 * PROVIDER_KINDS; nothing else lists the kinds.
 */
export interface ProviderDescriptor {
  /** The built-in provider name (`sim:…`) and the configuration's `type`. */
  kind: string;
  /** Other spellings accepted for `type`. */
  aliases: readonly string[];
  /** One line for help and error messages. */
  description: string;
  capabilities: ProviderCapabilities;
  /** The environment variables the built-in provider reads, as the official SDKs name them. */
  env: { apiKey?: string; baseURL?: string };
  defaultBaseURL?: string;
  /** The settings a configured provider of this kind may have; the others are refused. */
  settings: readonly ProviderSetting[];
  /**
   * Whether a gateway offers the built-in provider when its configuration names providers
   * (`always`), or only when it names none or one of this name (`unconfigured`): the
   * simulator answers anyone for free.
   */
  gatewayBuiltIn: 'always' | 'unconfigured';
  /** The built-in provider, from the environment. */
  fromEnv(env: Env): Provider;
  /** A configured provider, from its settings (and the environment for what they leave out). */
  fromSettings(settings: ProviderSettings, env: Env): Provider;
}

import { InvalidRequestError } from '../protocol/errors.ts';
import { builtInKind, checkedProvider, PROVIDER_KIND_NAMES } from './kinds.ts';
import { runtimeEnv } from './runtime-env.ts';
import { createSimulatedProvider, NO_PACING } from './simulated/provider.ts';
import type { Provider } from './types.ts';

export { pacingFromEnv } from './simulated/descriptor.ts';

/** A `provider:model` string, split. */
export interface ModelRef {
  provider: string;
  model: string;
}

/** The model `anthropic` means when `ANTHROPIC_API_KEY` is set and no model is named. */
export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';
/** The default model without any configuration or key: the simulated model. */
export const DEFAULT_SIM_MODEL = 'sim:default';

/** `provider:model` → its parts. The model part may itself contain colons (`ollama:llama3:8b`). */
export function parseModelRef(ref: string): ModelRef {
  const colon = ref.indexOf(':');
  if (colon <= 0 || colon === ref.length - 1) {
    throw new InvalidRequestError(
      `Model '${ref}' is not of the form provider:model; try sim:default, anthropic:${DEFAULT_ANTHROPIC_MODEL} or openai:gpt-4o-mini.`,
    );
  }
  return { provider: ref.slice(0, colon), model: ref.slice(colon + 1) };
}

type Env = Record<string, string | undefined>;

/** The model used when none is named: `SLUICE_MODEL`, else Anthropic when a key is set, else the simulator. */
export function defaultModel(env: Env = runtimeEnv()): string {
  if (env.SLUICE_MODEL) return env.SLUICE_MODEL;
  return env.ANTHROPIC_API_KEY ? `anthropic:${DEFAULT_ANTHROPIC_MODEL}` : DEFAULT_SIM_MODEL;
}

export interface ProviderRegistryOptions {
  env?: Env;
  providers?: Record<string, Provider>;
  /** Overrides the environment's rule (a gateway's configured default). */
  defaultModel?: string;
  /**
   * The built-in providers created on first use; default all. A gateway leaves out `sim`
   * when its configuration names only real providers.
   */
  builtIns?: readonly string[];
  /** Why the built-in `name`, left out of `builtIns`, is unavailable: for the error that names it. */
  withheldReason?: (name: string) => string;
}

/**
 * Resolves `provider:model` strings to providers. The built-in providers (one per kind in
 * PROVIDER_KINDS: `sim`, `anthropic`, `openai`) are created on first use from the environment;
 * others are registered by name. Every provider is checked for the Provider contract's version.
 */
export class ProviderRegistry {
  private readonly env: Env;
  private readonly providers = new Map<string, Provider>();
  private readonly configuredDefault: string | undefined;
  private readonly builtIns: readonly string[];
  private readonly withheldReason: ((name: string) => string) | undefined;

  constructor(options: ProviderRegistryOptions = {}) {
    this.env = options.env ?? runtimeEnv();
    this.configuredDefault = options.defaultModel;
    this.builtIns = options.builtIns ?? PROVIDER_KIND_NAMES;
    this.withheldReason = options.withheldReason;
    for (const [name, provider] of Object.entries(options.providers ?? {})) this.register(name, provider);
  }

  register(name: string, provider: Provider): this {
    this.providers.set(name, checkedProvider(provider, name));
    return this;
  }

  get defaultModel(): string {
    return this.configuredDefault ?? defaultModel(this.env);
  }

  get names(): string[] {
    return [...new Set([...this.providers.keys(), ...this.builtIns])];
  }

  /** What to tell a caller who named a provider this registry does not have. */
  unknownProviderMessage(name: string, ref: string): string {
    const known = `known providers: ${this.names.join(', ')}`;
    if (builtInKind(name) !== undefined && !this.builtIns.includes(name)) {
      const reason = this.withheldReason?.(name);
      return `The provider '${name}' in '${ref}' is not available${reason ? ` ${reason}` : ''}; ${known}.`;
    }
    return `Unknown provider '${name}' in '${ref}'; ${known}.`;
  }

  resolve(ref: string = this.defaultModel): { provider: Provider; model: string } {
    const { provider: name, model } = parseModelRef(ref);
    let provider = this.providers.get(name);
    if (!provider) {
      const kind = this.builtIns.includes(name) ? builtInKind(name) : undefined;
      if (!kind) throw new InvalidRequestError(this.unknownProviderMessage(name, ref));
      provider = checkedProvider(kind.fromEnv(this.env), name);
      this.providers.set(name, provider);
    }
    return { provider, model };
  }
}

/** A registry whose simulator is unpaced: for tests and benchmarks. */
export function unpacedRegistry(env: Env = {}): ProviderRegistry {
  return new ProviderRegistry({ env, providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) } });
}

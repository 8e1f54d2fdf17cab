import { InvalidRequestError } from '../protocol/errors.ts';
import { createAnthropicProvider } from './anthropic.ts';
import { createOpenAIProvider } from './openai/provider.ts';
import { createSimulatedProvider, NO_PACING, type Pacing } from './simulated/provider.ts';
import type { Provider } from './types.ts';

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
export function defaultModel(env: Env = process.env): string {
  if (env.SLUICE_MODEL) return env.SLUICE_MODEL;
  return env.ANTHROPIC_API_KEY ? `anthropic:${DEFAULT_ANTHROPIC_MODEL}` : DEFAULT_SIM_MODEL;
}

/** Simulator pacing from `SLUICE_SIM_TTFT_MS` and `SLUICE_SIM_TPS` (0 = as fast as possible). */
export function pacingFromEnv(env: Env = process.env): Partial<Pacing> {
  const pacing: Partial<Pacing> = {};
  if (env.SLUICE_SIM_TTFT_MS !== undefined) pacing.ttftMs = Number(env.SLUICE_SIM_TTFT_MS) || 0;
  if (env.SLUICE_SIM_TPS !== undefined) pacing.tokensPerSecond = Number(env.SLUICE_SIM_TPS) || 0;
  return pacing;
}

const BUILT_IN: Record<string, (env: Env) => Provider> = {
  sim: (env) => createSimulatedProvider({ pacing: pacingFromEnv(env) }),
  anthropic: (env) =>
    createAnthropicProvider({ apiKey: env.ANTHROPIC_API_KEY, baseURL: env.ANTHROPIC_BASE_URL }),
  openai: (env) => createOpenAIProvider({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL }),
};

/**
 * Resolves `provider:model` strings to providers. The built-in providers (`sim`,
 * `anthropic`, `openai`) are created on first use from the environment; others are
 * registered by name.
 */
export class ProviderRegistry {
  private readonly env: Env;
  private readonly providers = new Map<string, Provider>();
  private readonly configuredDefault: string | undefined;

  /** `defaultModel` overrides the environment's rule (a gateway's configured default). */
  constructor(options: { env?: Env; providers?: Record<string, Provider>; defaultModel?: string } = {}) {
    this.env = options.env ?? process.env;
    this.configuredDefault = options.defaultModel;
    for (const [name, provider] of Object.entries(options.providers ?? {}))
      this.providers.set(name, provider);
  }

  register(name: string, provider: Provider): this {
    this.providers.set(name, provider);
    return this;
  }

  get defaultModel(): string {
    return this.configuredDefault ?? defaultModel(this.env);
  }

  get names(): string[] {
    return [...new Set([...this.providers.keys(), ...Object.keys(BUILT_IN)])];
  }

  resolve(ref: string = this.defaultModel): { provider: Provider; model: string } {
    const { provider: name, model } = parseModelRef(ref);
    let provider = this.providers.get(name);
    if (!provider) {
      const create = BUILT_IN[name];
      if (!create) {
        throw new InvalidRequestError(
          `Unknown provider '${name}' in '${ref}'; known providers: ${this.names.join(', ')}.`,
        );
      }
      provider = create(this.env);
      this.providers.set(name, provider);
    }
    return { provider, model };
  }
}

/** A registry whose simulator is unpaced: for tests and benchmarks. */
export function unpacedRegistry(env: Env = {}): ProviderRegistry {
  return new ProviderRegistry({ env, providers: { sim: createSimulatedProvider({ pacing: NO_PACING }) } });
}

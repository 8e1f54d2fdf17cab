import { NotFoundError } from '../protocol/errors.ts';
import { type ModelRef, type ProviderRegistry, parseModelRef } from '../providers/registry.ts';
import type { Provider } from '../providers/types.ts';

export interface ResolvedModel {
  /** The `provider:model` the name resolved to. */
  ref: string;
  provider: Provider;
  /** The provider's own model name. */
  model: string;
}

/**
 * Turns the `model` of a request into a provider: an alias first (aliases may point at
 * aliases), then a `provider:model` string. A bare name the gateway does not know is a 404
 * that lists what it does know, so a client can correct itself.
 */
export class ModelResolver {
  private readonly registry: ProviderRegistry;
  private readonly aliases: Record<string, string>;
  private readonly fallbacks: Record<string, readonly string[]>;

  constructor(
    registry: ProviderRegistry,
    aliases: Record<string, string> = {},
    fallbacks: Record<string, readonly string[]> = {},
  ) {
    this.registry = registry;
    this.aliases = aliases;
    this.fallbacks = fallbacks;
  }

  /**
   * The model and the ones to try, in order, if it fails before its first byte: fallbacks are
   * looked up by the name asked for, then by what it resolved to.
   */
  resolveChain(name: string): ResolvedModel[] {
    const primary = this.resolve(name);
    const backups = this.fallbacks[name] ?? this.fallbacks[primary.ref] ?? [];
    const seen = new Set([primary.ref]);
    const chain = [primary];
    for (const backup of backups) {
      const resolved = this.resolve(backup);
      if (seen.has(resolved.ref)) continue;
      seen.add(resolved.ref);
      chain.push(resolved);
    }
    return chain;
  }

  /** What `GET /v1/models` lists: the aliases, then the default model. */
  get known(): string[] {
    return [...new Set([...Object.keys(this.aliases), this.registry.defaultModel])];
  }

  resolve(name: string): ResolvedModel {
    const ref = this.dealias(name);
    let parsed: ModelRef;
    try {
      parsed = parseModelRef(ref);
    } catch {
      throw new NotFoundError(
        `Unknown model '${name}'. Use an alias (${this.known.join(', ')}) or provider:model with a provider of ${this.registry.names.join(', ')}.`,
      );
    }
    if (!this.registry.names.includes(parsed.provider)) {
      throw new NotFoundError(this.registry.unknownProviderMessage(parsed.provider, name));
    }
    const { provider, model } = this.registry.resolve(ref);
    return { ref, provider, model };
  }

  private dealias(name: string): string {
    let ref = name;
    const seen = new Set<string>();
    while (Object.hasOwn(this.aliases, ref) && !seen.has(ref)) {
      seen.add(ref);
      ref = this.aliases[ref]!;
    }
    return ref;
  }
}

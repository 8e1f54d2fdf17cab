import { PROVIDER_KIND_NAMES } from '../../providers/kinds.ts';
import { type GatewayConfig, MODEL_REF } from './schema.ts';

/*
 * Checks between sections: every model named anywhere resolves to a known provider or a
 * configured alias, aliases do not loop, and no model is its own fallback.
 */

/** Provider names usable as a `provider:` prefix: the built-in ones and the configured ones. */
export function knownProviders(config: Pick<GatewayConfig, 'providers'>): string[] {
  return [...new Set([...PROVIDER_KIND_NAMES, ...Object.keys(config.providers)])];
}

/** A model name with its aliases followed: `fast` → `ollama:llama3.2:3b`. Unchanged when not an alias. */
export function resolveAlias(config: Pick<GatewayConfig, 'aliases'>, name: string): string {
  let current = name;
  const seen = new Set<string>();
  while (Object.hasOwn(config.aliases, current) && !seen.has(current)) {
    seen.add(current);
    current = config.aliases[current] ?? current;
  }
  return current;
}

/** Every place a model is named, with its path, for the reference checks and the key warnings. */
export function modelReferences(config: GatewayConfig, defaultModelPath: string): Array<[string, string]> {
  const references: Array<[string, string]> = [[defaultModelPath, config.defaultModel]];
  for (const [alias, target] of Object.entries(config.aliases)) references.push([`aliases.${alias}`, target]);
  for (const [model, list] of Object.entries(config.fallbacks)) {
    references.push([`fallbacks.${model}`, model]);
    list.forEach((fallback, index) => {
      references.push([`fallbacks.${model}.${index}`, fallback]);
    });
  }
  const { classifier, definitions } = config.routes;
  if (classifier.model !== undefined) references.push(['routes.classifier.model', classifier.model]);
  definitions.forEach((route, index) => {
    if (route.model !== undefined) references.push([`routes.definitions.${index}.model`, route.model]);
  });
  return references;
}

/** Each alias cycle once, named from its first member in file order. */
function aliasCycleIssues(config: GatewayConfig): string[] {
  const issues: string[] = [];
  const reported = new Set<string>();
  for (const start of Object.keys(config.aliases)) {
    if (reported.has(start)) continue;
    const chain = [start];
    let current = config.aliases[start];
    while (current !== undefined && Object.hasOwn(config.aliases, current)) {
      if (current === start) {
        issues.push(`aliases.${start}: alias cycle ${[...chain, start].join(' → ')}`);
        for (const member of chain) reported.add(member);
        break;
      }
      if (chain.includes(current)) break; // a cycle further on, reported from its own members
      chain.push(current);
      current = config.aliases[current];
    }
  }
  return issues;
}

export function referenceIssues(config: GatewayConfig, defaultModelPath: string): string[] {
  const known = knownProviders(config);
  const issues: string[] = [];
  for (const [path, name] of modelReferences(config, defaultModelPath)) {
    if (MODEL_REF.test(name)) {
      const provider = name.slice(0, name.indexOf(':'));
      if (!known.includes(provider)) {
        issues.push(
          `${path}: unknown provider '${provider}' in '${name}'; expected one of ${known.join(', ')}`,
        );
      }
    } else if (!Object.hasOwn(config.aliases, name)) {
      issues.push(`${path}: '${name}' is neither provider:model nor a configured alias`);
    }
  }
  for (const [model, list] of Object.entries(config.fallbacks)) {
    const target = resolveAlias(config, model);
    const self = list.findIndex((fallback) => resolveAlias(config, fallback) === target);
    if (self >= 0) issues.push(`fallbacks.${model}.${self}: a model cannot be its own fallback`);
  }
  return [...aliasCycleIssues(config), ...issues];
}

/**
 * Every model the configuration names, as written and with its aliases followed: the models
 * whose names a metric label may carry whatever they answer.
 */
export function configuredModels(config: GatewayConfig): string[] {
  const names = modelReferences(config, 'defaultModel').flatMap(([, name]) => [
    name,
    resolveAlias(config, name),
  ]);
  return [...new Set(names)];
}

import { builtInKind, providerKind } from '../../providers/kinds.ts';
import { type Env, envValue } from './overrides.ts';
import { modelReferences, resolveAlias } from './references.ts';
import { type GatewayConfig, MODEL_REF, type ProviderConfig, type RoutesConfig } from './schema.ts';

/*
 * Problems worth a line in the log that do not stop the gateway: a provider key that is not
 * set (it may be set before the first call), a route no classifier can pick.
 */

/**
 * The environment variable holding a configured provider's key: `apiKeyEnv`, else the type's
 * standard variable unless `baseURL` points elsewhere (then none: a key is never sent to a
 * server it was not issued for).
 */
export function providerApiKeyEnv(provider: ProviderConfig): string | undefined {
  if (provider.apiKeyEnv !== undefined) return provider.apiKeyEnv;
  return provider.baseURL === undefined ? providerKind(provider.type)?.env.apiKey : undefined;
}

/** A key the gateway will need that is not set. A warning, not an error: it may be set before the first call. */
function missingKeyWarning(config: GatewayConfig, name: string, env: Env): string | undefined {
  const configured = config.providers[name];
  if (configured) {
    const keyEnv = providerApiKeyEnv(configured);
    if (keyEnv === undefined || envValue(env, keyEnv) !== undefined) return undefined;
    return `providers.${name}: ${keyEnv} is not set; calls to ${name}: models will fail until it is`;
  }
  const keyEnv = builtInKind(name)?.env.apiKey;
  // The built-in openai provider talks to a local server without a key when OPENAI_BASE_URL is set.
  if (keyEnv === undefined || envValue(env, keyEnv) !== undefined) return undefined;
  if (name === 'openai' && envValue(env, 'OPENAI_BASE_URL') !== undefined) return undefined;
  return `${keyEnv} is not set; calls to ${name}: models will fail until it is`;
}

function routeWarnings(routes: RoutesConfig): string[] {
  const warnings: string[] = [];
  routes.definitions.forEach((route, index) => {
    const path = `routes.definitions.${index}`;
    const unmatchable = (route.keywords ?? []).length === 0 && (route.patterns ?? []).length === 0;
    if (routes.classifier.type === 'rules' && unmatchable) {
      warnings.push(
        `${path}: route '${route.name}' has no keywords or patterns, so the rules classifier never picks it`,
      );
    }
    if (routes.classifier.type === 'llm' && route.description === undefined) {
      warnings.push(
        `${path}: route '${route.name}' has no description; the llm classifier sees only its name`,
      );
    }
  });
  return warnings;
}

export function collectWarnings(config: GatewayConfig, env: Env): string[] {
  const used = new Set<string>();
  for (const [, name] of modelReferences(config, 'defaultModel')) {
    const resolved = resolveAlias(config, name);
    if (MODEL_REF.test(resolved)) used.add(resolved.slice(0, resolved.indexOf(':')));
  }
  const keyWarnings = [...used].map((name) => missingKeyWarning(config, name, env));
  return [...keyWarnings.filter((warning) => warning !== undefined), ...routeWarnings(config.routes)];
}

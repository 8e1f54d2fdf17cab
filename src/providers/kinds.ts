import { InvalidRequestError } from '../protocol/errors.ts';
import { anthropicDescriptor } from './anthropic.ts';
import type { ProviderDescriptor } from './descriptor.ts';
import { openAIDescriptor } from './openai/descriptor.ts';
import { openAIResponsesDescriptor } from './openai-responses/descriptor.ts';
import { simulatedDescriptor } from './simulated/descriptor.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider } from './types.ts';

/**
 * Every kind of provider Sluice has, in the order their names are listed: the one list the
 * registry, the gateway's configuration schema and the server read.
 */
export const PROVIDER_KINDS: readonly ProviderDescriptor[] = [
  simulatedDescriptor,
  anthropicDescriptor,
  openAIDescriptor,
  openAIResponsesDescriptor,
];

/** The kinds' names: the built-in provider names and the configuration's `type` values. */
export const PROVIDER_KIND_NAMES: readonly string[] = PROVIDER_KINDS.map((kind) => kind.kind);

/** The kind a configuration's `type` names, by its name or an alias. */
export function providerKind(type: string): ProviderDescriptor | undefined {
  return PROVIDER_KINDS.find((kind) => kind.kind === type || kind.aliases.includes(type));
}

/** The kind whose built-in provider is called `name` (aliases are not provider names). */
export function builtInKind(name: string): ProviderDescriptor | undefined {
  return PROVIDER_KINDS.find((kind) => kind.kind === name);
}

/**
 * `provider`, once it is known to implement this version of the Provider contract: one
 * written for another version fails here, by name, rather than somewhere in a stream.
 */
export function checkedProvider(provider: Provider, name: string): Provider {
  const stated = (provider as { specificationVersion?: unknown }).specificationVersion;
  if (stated !== PROVIDER_SPECIFICATION_VERSION) {
    const what = typeof stated === 'string' ? `implements '${stated}'` : 'states no specificationVersion';
    throw new InvalidRequestError(
      `The provider registered as '${name}' ${what}, but this Sluice expects '${PROVIDER_SPECIFICATION_VERSION}': use a version of the provider made for this Sluice, or set specificationVersion if it implements this contract.`,
    );
  }
  return provider;
}

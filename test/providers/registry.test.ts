import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/protocol/errors.ts';
import { PROVIDER_KIND_NAMES, PROVIDER_KINDS, providerKind } from '../../src/providers/kinds.ts';
import { ProviderRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider } from '../../src/providers/types.ts';
import { loadConfig } from '../../src/server/config.ts';
import { registryFromConfig } from '../../src/server/providers.ts';

describe('providers as data', () => {
  it('one descriptor per kind; the registry, the config schema and the server read the same list', () => {
    expect(PROVIDER_KIND_NAMES).toEqual(['sim', 'anthropic', 'openai', 'openai-responses']);
    expect(new ProviderRegistry({ env: {} }).names).toEqual([
      'sim',
      'anthropic',
      'openai',
      'openai-responses',
    ]);
    // Each built-in provider is its descriptor's, with the descriptor's capabilities.
    const registry = new ProviderRegistry({ env: {} });
    for (const kind of PROVIDER_KINDS) {
      const { provider } = registry.resolve(`${kind.kind}:some-model`);
      expect(provider.name).toBe(kind.kind);
      expect(provider.capabilities).toEqual(kind.capabilities);
      expect(provider.specificationVersion).toBe(PROVIDER_SPECIFICATION_VERSION);
    }
  });

  it('a configuration names a kind by its name or an alias, and gets the kind', () => {
    expect(providerKind('simulated')?.kind).toBe('sim');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-kinds-'));
    try {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ providers: { local: { type: 'simulated' } } }));
      const { config } = loadConfig({ env: {}, path });
      expect(config.providers.local?.type).toBe('sim');
      expect(registryFromConfig(config, {}).resolve('local:default').provider.name).toBe('sim');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Provider contract version', () => {
  const fake = (version: unknown): Provider =>
    ({
      specificationVersion: version,
      name: 'elsewhere',
      capabilities: { prefill: false, tools: false, images: false, documents: false, thinking: false },
      stream: () =>
        createSimulatedProvider({ pacing: NO_PACING }).stream({ model: 'x', max_tokens: 1, messages: [] }),
    }) as Provider;

  it('is checked when a provider is registered, with an error naming both versions', () => {
    expect(() => new ProviderRegistry({ env: {}, providers: { old: fake('sluice-provider-0') } })).toThrow(
      InvalidRequestError,
    );
    expect(() => new ProviderRegistry({ env: {} }).register('old', fake('sluice-provider-0'))).toThrow(
      /'old' implements 'sluice-provider-0', but this Sluice expects 'sluice-provider-1'/,
    );
    expect(() => new ProviderRegistry({ env: {} }).register('bare', fake(undefined))).toThrow(
      /'bare' states no specificationVersion/,
    );
    const current = fake(PROVIDER_SPECIFICATION_VERSION);
    expect(new ProviderRegistry({ env: {} }).register('ok', current).resolve('ok:x').provider).toBe(current);
  });
});

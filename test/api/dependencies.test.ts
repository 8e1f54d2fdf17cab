import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS, ROOT } from './entry-points.ts';
import { packagesReachedFrom } from './import-graph.ts';

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** `@scope/name/sub/path.js` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function packagesOf(entry: string): Set<string> {
  return new Set(
    packagesReachedFrom(entry)
      .map((line) => packageName(line.split(' ← ')[0]!))
      .filter((name) => !name.startsWith('node:')),
  );
}

describe('what each entry point loads', () => {
  it('is, for sluice, /providers and /testing, only the dependencies every install gets', () => {
    // npm installs a peer that is not optional (zod, which the user's own schemas share).
    const requiredPeers = Object.keys(manifest.peerDependencies).filter(
      (name) => !manifest.peerDependenciesMeta[name]?.optional,
    );
    const installed = new Set([...Object.keys(manifest.dependencies), ...requiredPeers]);
    for (const subpath of ['sluice', 'sluice/providers', 'sluice/testing']) {
      const outside = [...packagesOf(ENTRY_POINTS[subpath]!)].filter((name) => !installed.has(name));
      expect(outside, subpath).toEqual([]);
    }
  });

  it('is, for sluice/server and sluice/mcp, a dependency or a declared optional peer', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    for (const subpath of ['sluice/server', 'sluice/mcp']) {
      const undeclared = [...packagesOf(ENTRY_POINTS[subpath]!)].filter((name) => !declared.has(name));
      expect(undeclared, subpath).toEqual([]);
    }
  });

  // DESIGN.md wants `sluice` free of Node built-ins, to run in browsers and edge runtimes. It is
  // not yet: these are what stand in the way (docs/ARCHITECTURE.md, "Public API"). The list may
  // only shrink: a new built-in reachable from `sluice` fails here; remove a line when its
  // import is gone.
  it('reaches no Node built-in from sluice beyond the known ones', () => {
    const builtins = packagesReachedFrom(ENTRY_POINTS.sluice!).filter((line) => line.startsWith('node:'));
    expect(builtins).toEqual([
      'node:crypto ← src/providers/openai/client/stream.ts',
      'node:fs/promises ← src/client/content.ts',
      'node:http ← src/providers/http.ts',
      'node:https ← src/providers/http.ts',
      'node:stream ← src/stream/byte-batches.ts',
      'node:timers/promises ← src/providers/simulated/provider.ts',
      'node:timers/promises ← src/resilience/resilient-stream.ts',
      'node:url ← src/client/content.ts',
    ]);
  });
});

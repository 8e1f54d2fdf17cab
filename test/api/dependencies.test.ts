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

  // DESIGN.md wants the client free of Node built-ins at load, to run in browsers, workers
  // and edge runtimes: what needs Node (its HTTP client, the file system for `image(path)`) is
  // loaded by a dynamic import when it is used, on Node.
  it('loads no Node built-in when sluice or sluice/providers is imported', () => {
    for (const subpath of ['sluice', 'sluice/providers']) {
      const builtins = packagesReachedFrom(ENTRY_POINTS[subpath]!, { atLoad: true }).filter((line) =>
        line.startsWith('node:'),
      );
      expect(builtins, subpath).toEqual([]);
    }
  });

  it('uses Node built-ins only through dynamic imports, from sluice', () => {
    const builtins = packagesReachedFrom(ENTRY_POINTS.sluice!).filter((line) => line.startsWith('node:'));
    expect(builtins).toEqual([
      'node:fs/promises ← src/client/content.ts',
      'node:http ← src/providers/node-http.ts',
      'node:https ← src/providers/node-http.ts',
    ]);
  });
});

describe('zod', () => {
  // zod is a peer, ^3.25.76 || ^4: both ship the v4 API at `zod/v4`, only 4 at `zod`.
  it('is imported as zod/v4 everywhere in the source, so either major a user has works', () => {
    const plainZod = packagesReachedFromEveryEntry().filter((line) => line.split(' ← ')[0] === 'zod');
    expect(plainZod).toEqual([]);
  });
});

function packagesReachedFromEveryEntry(): string[] {
  return Object.values(ENTRY_POINTS).flatMap((entry) => packagesReachedFrom(entry));
}

// The npm registry reachable from this project's machines serves Biome's Linux binaries only.
// `npm install` then leaves Biome's other optional platform packages out of package-lock.json,
// and `npm ci` (CI) rejects the lockfile as out of sync. This restores their entries; npm ci
// skips them on Linux (os/cpu/libc mismatch) without fetching anything. Run it after any
// `npm install` that rewrote the lockfile: `npm run lockfile:complete`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const biome = lock.packages['node_modules/@biomejs/biome'];
let added = 0;
for (const [name, range] of Object.entries(biome.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const [, os, cpu, libc] = /cli-(\w+)-(\w+)(?:-(musl))?$/.exec(name) ?? [];
  lock.packages[key] = {
    version: range,
    cpu: [cpu],
    dev: true,
    ...(libc ? { libc: [libc] } : {}),
    license: biome.license,
    optional: true,
    os: [os],
    engines: biome.engines,
  };
  added++;
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entr${added === 1 ? 'y' : 'ies'} restored`);

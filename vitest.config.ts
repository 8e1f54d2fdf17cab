import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test that opens a socket or a timer must close it; a hanging run is a bug, not a flake.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});

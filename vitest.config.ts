import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration and browser tests start real servers and chromium; on 2 cores running
    // files in parallel only makes them flaky.
    fileParallelism: false,
    pool: 'forks',
  },
});

import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run the packages' sources, as one module each: the server code
    // under test imports them by package name, the tests by either.
    alias: [
      { find: /^@sigplane\/protocol$/, replacement: path.resolve(__dirname, 'proto/index.ts') },
      { find: /^@sigplane\/client$/, replacement: path.resolve(__dirname, 'client/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config';

// Shared test settings. Workers run with --unhandled-rejections=strict so that a promise rejection
// nobody observed crashes the run instead of passing quietly.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--unhandled-rejections=strict'] } },
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

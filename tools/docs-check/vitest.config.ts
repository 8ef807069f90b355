import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Packing and an npm install into throwaway projects take a while on a busy machine.
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});

import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vitest/config';
import base from '../../vitest.base.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The example backend (test/) imports the kit by its package name, and runs the contract suite
// from its source: persistence-tests depends on the kit through the memory backend, so a
// workspace dependency on it from here would be a cycle in the package graph.
export default mergeConfig(base, {
  resolve: {
    alias: {
      '@agent-records/backend-kit': here('./src/index.ts'),
      '@agent-records/persistence-tests': here('../persistence-tests/src/index.ts'),
    },
  },
});

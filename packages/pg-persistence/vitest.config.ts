import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.base.js';

// One database: test files run one at a time (the restart test stops the server for all).
export default mergeConfig(base, defineConfig({ test: { fileParallelism: false } }));

import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import base from '../../tsup.base.js';

const { version } = JSON.parse(readFileSync('./package.json', 'utf8')) as { version: string };

export default defineConfig([
  { ...(base as object), define: { PACKAGE_VERSION: JSON.stringify(version) } },
  {
    entry: { bin: 'src/bin.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: false,
    clean: false,
    define: { PACKAGE_VERSION: JSON.stringify(version) },
  },
]);

import { defineConfig } from 'tsup';

// One build for every published package: ESM + CJS + declarations for both, so that
// `exports` can point `import` and `require` at matching types (checked by attw).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  treeshake: true,
});

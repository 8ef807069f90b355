// collectExports in-process on tiny packages: one compile per scenario, all assertions on it.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectExports, createSourceFileCache } from '../src/report.mjs';
import { type FixtureRepo, fixtureRepo } from './fixture.js';

const BASE =
  'export function keep(x: number): string { return String(x); }\nexport const gone = 1;\n';
const scenarios = {
  base: BASE,
  bodyChanged:
    'export function keep(x: number): string { return String(x).concat("!"); }\nexport const gone = 1;\n',
  signatureChanged:
    'export function keep(x: string): string { return x; }\nexport const gone = 1;\n',
  reexported:
    "export { helper as renamed } from './helper.js';\nexport type { Shape } from './helper.js';\n",
  overloads:
    'export function pick(x: number): number;\nexport function pick(x: string): string;\nexport function pick(x: unknown) { return x; }\n',
};

let repo: FixtureRepo;
const exported = new Map<string, Map<string, string>>();
beforeAll(() => {
  repo = fixtureRepo();
  for (const [dir, source] of Object.entries(scenarios)) {
    repo.addPackage(dir, `@fixture/${dir}`, source);
  }
  repo.write(
    'packages/reexported/src/helper.ts',
    'export function helper(a: boolean): void {}\nexport interface Shape { side: number }\n',
  );
  const cache = createSourceFileCache();
  for (const dir of Object.keys(scenarios)) {
    exported.set(dir, collectExports(`${repo.root}/packages/${dir}`, cache));
  }
});
afterAll(() => repo.remove());

describe('collectExports', () => {
  it('lists every export with its emitted declaration, sorted by name', () => {
    expect([...(exported.get('base') ?? [])]).toEqual([
      ['gone', 'const gone = 1;'],
      ['keep', 'function keep(x: number): string;'],
    ]);
  });

  it('ignores body changes that leave the declarations alone', () => {
    expect(exported.get('bodyChanged')).toEqual(exported.get('base'));
  });

  it('sees a changed parameter type in the declaration', () => {
    expect(exported.get('signatureChanged')?.get('keep')).toBe('function keep(x: string): string;');
  });

  it('follows re-exports and renames to the declaring file', () => {
    expect([...(exported.get('reexported') ?? [])]).toEqual([
      ['Shape', 'interface Shape {\n    side: number;\n}'],
      ['renamed', 'function helper(a: boolean): void;'],
    ]);
  });

  it('accepts a package directory relative to the working directory', () => {
    // With two or more source files it used to loop forever (synchronously) looking for the
    // common root of the relative entry and the absolute paths of the files it imports.
    const relative = path.relative(process.cwd(), `${repo.root}/packages/reexported`);
    expect(collectExports(relative)).toEqual(exported.get('reexported'));
  });

  it('keeps every overload signature', () => {
    expect(exported.get('overloads')?.get('pick')).toBe(
      'function pick(x: number): number;\nfunction pick(x: string): string;',
    );
  });
});

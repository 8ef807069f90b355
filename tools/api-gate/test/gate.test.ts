import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../src/cli.mjs', import.meta.url));

// A throwaway repository shaped like ours: one published package with a committed report.
let root: string;

function write(rel: string, text: string) {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}
function git(...args: string[]) {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
}
// Asynchronous, so the test worker stays responsive while TypeScript runs in the child.
function gate(command: 'check' | 'update'): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, command, '--root', root], (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: `${stdout}${stderr}` });
    });
  });
}
function setSource(text: string) {
  write('packages/foo/src/index.ts', text);
}
function changeset(file: string, bump: string) {
  write(`.changeset/${file}.md`, `---\n"@fixture/foo": ${bump}\n---\n\nA change.\n`);
}

beforeEach(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'api-gate-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'gate@example.com');
  git('config', 'user.name', 'gate');
  write(
    'packages/foo/package.json',
    `${JSON.stringify({ name: '@fixture/foo', version: '1.0.0' }, null, 2)}\n`,
  );
  write(
    'packages/foo/tsconfig.json',
    JSON.stringify({ compilerOptions: { strict: true, types: [], module: 'NodeNext' } }),
  );
  write('packages/private/package.json', JSON.stringify({ name: 'p', private: true }));
  write('packages/private/src/index.ts', 'export const ignored = 1;\n');
  setSource(
    'export function keep(x: number): string { return String(x); }\nexport const gone = 1;\n',
  );
  expect((await gate('update')).code).toBe(0);
  git('add', '-A');
  git('commit', '-q', '-m', 'release @fixture/foo 1.0.0');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('api-gate', () => {
  it('passes on an unchanged release', async () => {
    const { code, output } = await gate('check');
    expect(output).toContain('every API report is current');
    expect(code).toBe(0);
  });

  it('rejects a stale report, naming the package and the export', async () => {
    setSource('export function keep(x: number): string { return String(x); }\n');
    const { code, output } = await gate('check');
    expect(code).toBe(1);
    expect(output).toContain('@fixture/foo');
    expect(output).toMatch(/does not match the code \(removed export `gone`\)/);
  });

  it('rejects a removed export without a major changeset and accepts it with one', async () => {
    setSource('export function keep(x: number): string { return String(x); }\n');
    await gate('update');

    let result = await gate('check');
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /@fixture\/foo: API changed since release \w+ \(removed export `gone`\): needs a `major` changeset, found none/,
    );

    changeset('small', 'minor');
    result = await gate('check');
    expect(result.code).toBe(1);
    expect(result.output).toContain('found only `minor`');

    changeset('breaking', 'major');
    result = await gate('check');
    expect(result.output).toContain('covered by a pending `major` changeset');
    expect(result.code).toBe(0);
  });

  it('treats a changed signature as major', async () => {
    setSource('export function keep(x: string): string { return x; }\nexport const gone = 1;\n');
    await gate('update');
    changeset('c', 'minor');
    const { code, output } = await gate('check');
    expect(code).toBe(1);
    expect(output).toContain('changed export `keep`');
  });

  it('needs a minor changeset for an added export', async () => {
    setSource(
      'export function keep(x: number): string { return String(x); }\nexport const gone = 1;\nexport type Extra = { a: 1 };\n',
    );
    await gate('update');
    let result = await gate('check');
    expect(result.code).toBe(1);
    expect(result.output).toContain('added export `Extra`): needs a `minor` changeset');
    changeset('p', 'patch');
    expect((await gate('check')).code).toBe(1);
    changeset('p', 'minor');
    result = await gate('check');
    expect(result.code).toBe(0);
  });

  it('treats optional members added to an interface as minor, required ones as major', async () => {
    const base =
      'export function keep(x: number): string { return String(x); }\nexport const gone = 1;\n';
    setSource(`${base}export interface Options { a: number; b?: string }\n`);
    await gate('update');
    changeset('add-options', 'minor');
    expect((await gate('check')).code).toBe(0);
    git('add', '-A');
    git('commit', '-q', '-m', 'add Options');
    // Released: make this commit the baseline by bumping the version.
    write(
      'packages/foo/package.json',
      `${JSON.stringify({ name: '@fixture/foo', version: '1.1.0' }, null, 2)}\n`,
    );
    rmSync(path.join(root, '.changeset'), { recursive: true, force: true });
    git('add', '-A');
    git('commit', '-q', '-m', 'release 1.1.0');

    setSource(
      `${base}export interface Options { a: number; b?: string; c?: boolean; d?(x: number): void }\n`,
    );
    await gate('update');
    let result = await gate('check');
    expect(result.output).toContain(
      'optional members added to `Options`): needs a `minor` changeset',
    );
    changeset('optional', 'minor');
    expect((await gate('check')).code).toBe(0);

    setSource(`${base}export interface Options { a: number; b?: string; c: boolean }\n`);
    await gate('update');
    result = await gate('check');
    expect(result.code).toBe(1);
    expect(result.output).toContain('changed export `Options`): needs a `major` changeset');

    setSource(`${base}export interface Options { a: string; b?: string; c?: boolean }\n`);
    await gate('update');
    expect((await gate('check')).output).toContain('changed export `Options`');
  });

  it('ignores body changes that leave the declarations alone', async () => {
    setSource(
      'export function keep(x: number): string { return String(x).concat("!"); }\nexport const gone = 1;\n',
    );
    expect((await gate('check')).code).toBe(0);
  });

  it('measures from the last release: after `changeset version`, no changeset is owed', async () => {
    setSource('export function keep(x: number): string { return String(x); }\n');
    await gate('update');
    changeset('breaking', 'major');
    expect((await gate('check')).code).toBe(0);
    // What `changeset version` does: consume the changeset and bump the version.
    unlinkSync(path.join(root, '.changeset/breaking.md'));
    write(
      'packages/foo/package.json',
      `${JSON.stringify({ name: '@fixture/foo', version: '2.0.0' }, null, 2)}\n`,
    );
    git('add', '-A');
    git('commit', '-q', '-m', 'release @fixture/foo 2.0.0');
    expect((await gate('check')).code).toBe(0);
  });
});

// Throwaway repositories shaped like ours: `packages/<name>` with a package.json, a tsconfig that
// skips the default lib (the gate only reads declarations, so a fixture needs no lib types and
// compiles in milliseconds) and a `src/index.ts`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const FIXTURE_TSCONFIG = JSON.stringify({
  compilerOptions: { strict: true, noLib: true, types: [], module: 'NodeNext' },
});

export interface FixtureRepo {
  root: string;
  write(rel: string, text: string): void;
  git(...args: string[]): string;
  /** A package at `packages/<dir>` named `name`, exporting `source`. */
  addPackage(dir: string, name: string, source: string, version?: string): void;
  remove(): void;
}

export function fixtureRepo(prefix = 'api-gate-'): FixtureRepo {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  const git = (...args: string[]) => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  return {
    root,
    write,
    git,
    addPackage(dir, name, source, version = '1.0.0') {
      write(`packages/${dir}/package.json`, `${JSON.stringify({ name, version }, null, 2)}\n`);
      write(`packages/${dir}/tsconfig.json`, FIXTURE_TSCONFIG);
      write(`packages/${dir}/src/index.ts`, source);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function initGit(repo: FixtureRepo) {
  repo.git('init', '-q', '-b', 'main');
  repo.git('config', 'user.email', 'gate@example.com');
  repo.git('config', 'user.name', 'gate');
}

export function changesetText(bump: string, name = '@fixture/foo') {
  return `---\n"${name}": ${bump}\n---\n\nA change.\n`;
}

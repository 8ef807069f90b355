import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The release flow with the repository's own `.changeset/config.json`, on a throwaway workspace
// shaped like ours once released: types and core at 1.0.0, core taking types as a peer
// (`workspace:^`), and a private package depending on types.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const changesetBin = path.join(repoRoot, 'node_modules', '.bin', 'changeset');

let root: string;
function write(rel: string, value: unknown) {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(
    path.join(root, rel),
    typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`,
  );
}
function readJson(rel: string): { version: string } {
  return JSON.parse(readFileSync(path.join(root, rel), 'utf8'));
}
function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'release-flow-'));
  write('package.json', { name: 'root', private: true });
  write('pnpm-workspace.yaml', 'packages:\n  - packages/*\n  - bench\n');
  mkdirSync(path.join(root, '.changeset'));
  copyFileSync(
    path.join(repoRoot, '.changeset', 'config.json'),
    path.join(root, '.changeset', 'config.json'),
  );
  write('packages/types/package.json', { name: '@agent-records/types', version: '1.0.0' });
  write('packages/core/package.json', {
    name: '@agent-records/core',
    version: '1.0.0',
    peerDependencies: { '@agent-records/types': 'workspace:^' },
    devDependencies: { '@agent-records/types': 'workspace:*' },
  });
  write('bench/package.json', {
    name: '@agent-records/bench',
    version: '0.0.0',
    private: true,
    dependencies: { '@agent-records/types': 'workspace:*' },
  });
  run('git', ['init', '-q', '-b', 'main']);
  run('git', ['add', '-A']);
  run('git', ['-c', 'user.email=r@example.com', '-c', 'user.name=r', 'commit', '-q', '-m', 'init']);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('release flow (changeset version with our config)', () => {
  it('a minor bump of types leaves its in-range peer dependents and private packages alone', () => {
    write('.changeset/types-minor.md', '---\n"@agent-records/types": minor\n---\n\nAn addition.\n');
    run(changesetBin, ['version']);
    expect(readJson('packages/types/package.json').version).toBe('1.1.0');
    expect(readJson('packages/core/package.json').version).toBe('1.0.0');
    expect(readJson('bench/package.json').version).toBe('0.0.0');
    expect(existsSync(path.join(root, 'bench', 'CHANGELOG.md'))).toBe(false);
  });

  it('a major bump of types still bumps the peer dependents it leaves out of range', () => {
    write('.changeset/types-major.md', '---\n"@agent-records/types": major\n---\n\nA break.\n');
    run(changesetBin, ['version']);
    expect(readJson('packages/types/package.json').version).toBe('2.0.0');
    expect(readJson('packages/core/package.json').version).not.toBe('1.0.0');
  });
});

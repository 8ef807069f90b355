// The one end-to-end run: the real CLI as CI calls it, on a throwaway git repository. Everything
// it decides is tested in-process by the other files; this proves the pieces are wired together
// (exit codes, messages, git history, changesets).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { runGate } from '../src/gate.mjs';
import { changesetText, fixtureRepo, initGit } from './fixture.js';

const cli = fileURLToPath(new URL('../src/cli.mjs', import.meta.url));
const repo = fixtureRepo();
afterAll(() => repo.remove());

// Asynchronous, so the test worker stays responsive while TypeScript runs in the child.
function gate(command: 'check' | 'update'): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, command, '--root', repo.root], (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, output: `${stdout}${stderr}` });
    });
  });
}

it('the CLI rejects a removed export without a major changeset and accepts it with one', async () => {
  initGit(repo);
  repo.addPackage(
    'foo',
    '@fixture/foo',
    'export function keep(x: number): string { return String(x); }\nexport const gone = 1;\n',
  );
  // Reports are written in-process (the code behind `update`): each spawn loads TypeScript anew.
  expect(runGate(repo.root, { update: true }).ok).toBe(true);
  expect(readFileSync(path.join(repo.root, 'packages/foo/api-report.md'), 'utf8')).toContain(
    '## `gone`\n\n```ts\nconst gone = 1;\n```',
  );
  repo.git('add', '.');
  repo.git('commit', '-q', '-m', 'release @fixture/foo 1.0.0');

  repo.write(
    'packages/foo/src/index.ts',
    'export function keep(x: number): string { return String(x); }\n',
  );
  let result = await gate('check');
  expect(result.output).toContain('does not match the code (removed export `gone`)');
  expect(result.output).toMatch(
    /@fixture\/foo: API changed since release \w+ \(removed export `gone`\): needs a `major` changeset, found none/,
  );
  expect(result.code).toBe(1);

  repo.write('.changeset/breaking.md', changesetText('major'));
  expect(runGate(repo.root, { update: true }).messages).toEqual([
    '@fixture/foo: wrote packages/foo/api-report.md',
  ]);
  result = await gate('check');
  expect(result.output).toContain('covered by a pending `major` changeset');
  expect(result.code).toBe(0);
  // Two CLI runs each load TypeScript (about 1.5 s of CPU); a generous limit for a crowded machine.
}, 180_000);

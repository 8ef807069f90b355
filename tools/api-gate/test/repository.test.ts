// What the gate reads from the repository: published packages, pending changesets and the report
// as of the last release. Real files and real git, no compiler.
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pendingBumps, publishedPackages, releasedReport } from '../src/gate.mjs';
import { changesetText, type FixtureRepo, fixtureRepo, initGit } from './fixture.js';

let repo: FixtureRepo;
afterEach(() => repo.remove());

describe('publishedPackages', () => {
  it('lists packages with a src/index.ts that are not private', () => {
    repo = fixtureRepo();
    repo.addPackage('foo', '@fixture/foo', 'export const a = 1;\n');
    repo.write('packages/private/package.json', JSON.stringify({ name: 'p', private: true }));
    repo.write('packages/private/src/index.ts', 'export const ignored = 1;\n');
    repo.write('packages/no-entry/package.json', JSON.stringify({ name: 'n' }));
    expect(publishedPackages(repo.root)).toEqual([{ rel: 'packages/foo', name: '@fixture/foo' }]);
  });
});

describe('pendingBumps', () => {
  it('keeps the highest bump per package and skips the README', () => {
    repo = fixtureRepo();
    repo.write('.changeset/README.md', '# Changesets\n');
    repo.write('.changeset/a.md', changesetText('patch'));
    repo.write('.changeset/b.md', changesetText('major'));
    repo.write('.changeset/c.md', changesetText('minor'));
    repo.write('.changeset/d.md', changesetText('minor', '@fixture/bar'));
    expect(pendingBumps(repo.root)).toEqual(
      new Map([
        ['@fixture/foo', 'major'],
        ['@fixture/bar', 'minor'],
      ]),
    );
  });

  it('names the file of an invalid changeset', () => {
    repo = fixtureRepo();
    repo.write('.changeset/broken.md', '---\n"@fixture/foo": enormous\n---\n\nA change.\n');
    expect(() => pendingBumps(repo.root)).toThrow(
      /\.changeset\/broken\.md is not a valid changeset/,
    );
  });
});

describe('releasedReport', () => {
  it('is null in a repository without commits', () => {
    repo = fixtureRepo();
    initGit(repo);
    repo.addPackage('foo', '@fixture/foo', 'export const a = 1;\n');
    expect(releasedReport(repo.root, 'packages/foo')).toBeNull();
  });

  it('measures from the last release: after `changeset version`, no changeset is owed', () => {
    repo = fixtureRepo();
    initGit(repo);
    repo.addPackage('foo', '@fixture/foo', 'export const a = 1;\n');
    repo.write('packages/foo/api-report.md', 'report 1.0.0\n');
    repo.git('add', '.');
    repo.git('commit', '-q', '-m', 'release 1.0.0');
    const first = repo.git('rev-parse', 'HEAD').trim();
    // Changes without a version bump are not a release.
    repo.write('packages/foo/api-report.md', 'report 2.0.0\n');
    repo.write('.changeset/breaking.md', changesetText('major'));
    repo.git('add', '.');
    repo.git('commit', '-q', '-m', 'break');
    expect(releasedReport(repo.root, 'packages/foo')).toEqual({
      commit: first,
      report: 'report 1.0.0\n',
    });
    // What `changeset version` does: consume the changeset and bump the version.
    unlinkSync(path.join(repo.root, '.changeset/breaking.md'));
    repo.write(
      'packages/foo/package.json',
      JSON.stringify({ name: '@fixture/foo', version: '2.0.0' }),
    );
    repo.git('add', '.');
    repo.git('commit', '-q', '-m', 'release 2.0.0');
    expect(releasedReport(repo.root, 'packages/foo')).toEqual({
      commit: repo.git('rev-parse', 'HEAD').trim(),
      report: 'report 2.0.0\n',
    });
  });

  it('has no report for a release made before the package had one', () => {
    repo = fixtureRepo();
    initGit(repo);
    repo.addPackage('foo', '@fixture/foo', 'export const a = 1;\n');
    repo.git('add', '.');
    repo.git('commit', '-q', '-m', 'release 1.0.0');
    expect(releasedReport(repo.root, 'packages/foo')?.report).toBeNull();
  });
});

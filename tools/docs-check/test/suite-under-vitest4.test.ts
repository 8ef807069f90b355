import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAll, spawnAsync } from '../src/projects.mjs';

// A user who runs `npm i -D @agent-records/persistence-tests vitest` today gets vitest 4. The
// peer range must admit it (no ERESOLVE, `npm ls` clean) and the suites must run under it.
const root = fileURLToPath(new URL('../../../', import.meta.url));
let work: string;
let project: string;

function npm(args: string[]) {
  return spawnAsync('npm', args, { cwd: project });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'docs-check-vitest4-'));
  project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    '{ "name": "suite-under-vitest4", "private": true, "type": "module" }\n',
  );
  const tarballs = (await packAll(root, path.join(work, 'tarballs'))).filter((file: string) =>
    /agent-records-(types|backend-kit|memory-persistence|persistence-tests)-/.test(file),
  );
  const install = await npm([
    'install',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    ...tarballs,
  ]);
  if (install.status !== 0)
    throw new Error(`npm install of the tarballs failed:\n${install.stderr}`);
  // What the README says to run, with the newest vitest major.
  const dev = await npm([
    'install',
    '--save-dev',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    'vitest@4',
  ]);
  if (dev.status !== 0) throw new Error(`npm install vitest@4 failed:\n${dev.stderr}`);
  writeFileSync(
    path.join(project, 'memory.test.js'),
    `import { InMemoryAgentRecordStore } from '@agent-records/memory-persistence';
import {
  describePersistenceContract,
  describePersistenceModel,
  describeStoreContract,
} from '@agent-records/persistence-tests';

// Reopening a session through the store keeps its log, snapshot and title, as a file does.
function subject() {
  const store = new InMemoryAgentRecordStore();
  return { open: (options) => store.open('session', options), openReader: () => store.open('session') };
}
const claims = { expectCapabilities: ['readFrom', 'snapshots', 'title'] };
describePersistenceContract('memory under vitest 4', subject, claims);
describePersistenceModel('memory under vitest 4', subject, { runs: 10, ...claims });
describeStoreContract('memory store under vitest 4', () => ({ store: new InMemoryAgentRecordStore() }), { runs: 5 });
`,
  );
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the contract suite for a user on vitest 4', () => {
  it('installs with npm without a peer conflict (npm ls is clean)', async () => {
    const ls = await npm(['ls', '--all']);
    expect(ls.stderr).not.toMatch(/invalid|missing|ERESOLVE/);
    expect(ls.status).toBe(0);
    expect(ls.stdout).toMatch(/vitest@4\./);
  });

  it('runs the contract and model suites under vitest 4', async () => {
    const run = await spawnAsync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run'], {
      cwd: project,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strip colour codes
    const output = `${run.stdout}${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    expect(output, output).toMatch(/Tests\s+\d+ passed/);
    expect(run.status, output).toBe(0);
  });
});

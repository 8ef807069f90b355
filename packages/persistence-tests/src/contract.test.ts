import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const vitestBin = path.join(packageDir, 'node_modules', 'vitest', 'vitest.mjs');

/** Runs the suite against the reference backend with one bug switched on; returns failed tests. */
async function runSuite(
  mode: string,
  env: Record<string, string> = {},
  only: readonly string[] = [],
): Promise<{ passed: string[]; failed: string[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'contract-'));
  const out = path.join(dir, 'report.json');
  try {
    await new Promise((resolve) =>
      execFile(
        process.execPath,
        [
          vitestBin,
          'run',
          '--config',
          'fixtures/vitest.config.ts',
          '--reporter=json',
          `--outputFile=${out}`,
          // A bug's run needs only the tests expected to catch it: the whole suite per bug was
          // most of this package's minutes.
          ...(only.length > 0 ? ['--testNamePattern', only.map(escapeRegExp).join('|')] : []),
        ],
        {
          cwd: packageDir,
          env: { ...process.env, BROKEN_MODE: mode, AGENT_RECORDS_MODEL_RUNS: '', ...env },
        },
        resolve,
      ),
    );
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }>;
    };
    const results = report.testResults.flatMap((file) => file.assertionResults);
    return {
      passed: results.filter((r) => r.status === 'passed').map((r) => r.title),
      failed: results.filter((r) => r.status === 'failed').map((r) => r.title),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('describePersistenceContract', () => {
  it('passes a correct backend, episode tests included', async () => {
    const { passed, failed } = await runSuite('none');
    expect(failed).toEqual([]);
    expect(passed.length).toBeGreaterThanOrEqual(18);
    expect(passed.some((t) => t.startsWith('latches a failed write'))).toBe(true);
    expect(passed).toContain(
      'matches the model over 40 random command sequences with write faults',
    );
  }, 120_000);

  it('fails loudly when a backend claims capabilities it lacks, and tests them anyway', async () => {
    const { passed, failed } = await runSuite('none', { CLAIM_CAPABILITIES: '1' });
    expect(failed).toContain('offers the capabilities it claims: readFrom, snapshots, title');
    // The claimed capabilities' tests are registered and fail, rather than go missing.
    expect(failed).toContain('reads a log that was never written as no records');
    expect(failed).toContain('reads no snapshot from a new log');
    expect(passed).toContain('preserves append order, durably across reopen');
  }, 120_000);

  const MODEL = 'matches the model over 40 random command sequences';
  // Each mode runs the fixtures once; the model-based suite must catch the bugs it can reach from
  // random sequences alone, as well as the example test aimed at each.
  it.each([
    ['no-snapshot', ['snapshots the record at append time', MODEL]],
    ['reorder', ['preserves append order, durably across reopen', MODEL]],
    ['no-pending-read', ['reads pending records after append, before flush']],
    ['materialise', ['streams a log of 20000 records in order without materialising it']],
    ['no-closed-error', ['append and rewrite after close throw RecordsClosedError']],
    [
      'duplicate-on-retry',
      [
        'latches a failed write: flush rejects, retries, then every record lands once, in order',
        `${MODEL} with write faults`,
      ],
    ],
    [
      'no-drain',
      [
        'a record appended right after await flush() reaches the store without another flush',
        MODEL,
      ],
    ],
  ])(
    'catches a backend with bug %s',
    async (mode, tests) => {
      const { failed } = await runSuite(mode, {}, tests);
      for (const test of tests) expect(failed).toContain(test);
    },
    180_000,
  );
});

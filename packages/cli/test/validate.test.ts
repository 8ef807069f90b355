import { appendFileSync, copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { snapshotPathOf } from '@agent-records/fs-persistence';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../src/commands/validate.js';
import { scanLines } from '../src/scan.js';
import { SnapshotCheck } from '../src/snapshot-check.js';
import { captureIo, META, runCli, tempDir, VALID, writeLog } from './helpers.js';
import { logWithSnapshot } from './snapshot-logs.js';

const dir = tempDir('cli-validate-');

describe('agent-records validate', () => {
  it('validate - reads standard input', async () => {
    const result = await runCli(['validate', '-'], { stdin: VALID });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('-: valid (4 records)\n');
    const bad = await runCli(['validate', '-'], { stdin: `${VALID}oops\n` });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^-:5:\d+: not valid JSON/);
    expect(bad.stderr).toContain('1 problem.');
  });

  it('says 1 record and 1 problem, not 1 records and 1 problems', async () => {
    const captured = captureIo();
    const file = writeLog(dir.path, 'one.jsonl', `${META}\n`);
    expect(await runValidate({ log: file }, captured.io)).toBe(0);
    expect(captured.stderr).toBe(`${file}: valid (1 record)\n`);
    const bad = await runCli(['validate', writeLog(dir.path, 'bad.jsonl', `${META}\nx\n`)]);
    expect(bad.stderr).toContain(': 1 problem. Run `agent-records repair');
  });
});

describe('agent-records validate: the snapshot beside the log', () => {
  it('says a matching snapshot matches (exit 0)', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 2 });
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `${file}: valid (5 records; its snapshot, covering 3 records, matches)\n`,
    );
  });

  it('warns about a snapshot that claims more records than the log holds before it: harmless, exit 0', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 2, claims: 7 });
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${file}: its snapshot does not match the log`);
    expect(result.stderr).toContain('it says it covers 7 records, but the log holds 3 before');
    expect(result.stderr).toContain('a replay ignores it');
    expect(result.stderr).toContain(`deleting ${file}.snapshot is safe`);
    expect(result.stderr).toContain(`${file}: valid (5 records)\n`);
  });

  it('warns about a snapshot of a log replaced since (a copy moved over it) or truncated', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 2 });
    // The same bytes in a new file: the log's identity changed, as after a restore from backup.
    const copy = `${file}.copy`;
    copyFileSync(file, copy);
    renameSync(copy, file);
    const replaced = await runCli(['validate', file]);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toContain('its snapshot does not match the log');

    await logWithSnapshot(path.join(dir.path, 't.jsonl'), { before: 4, after: 0 });
    const lines = readFileSync(path.join(dir.path, 't.jsonl'), 'utf8').split('\n');
    writeFileSync(path.join(dir.path, 't.jsonl'), `${lines.slice(0, 2).join('\n')}\n`);
    const truncated = await runCli(['validate', path.join(dir.path, 't.jsonl')]);
    expect(truncated.code).toBe(0);
    expect(truncated.stderr).toContain('its snapshot does not match the log');
  });

  it('warns about a snapshot file that cannot be read (torn or damaged): harmless, exit 0', async () => {
    const file = writeLog(dir.path, 's.jsonl', VALID);
    writeFileSync(snapshotPathOf(file), 'agent-records-snapshot 1 0000\n{"torn');
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${file}: its snapshot cannot be read (`);
    expect(result.stderr).toContain(`deleting ${file}.snapshot is safe`);
    expect(result.stderr).toContain(`${file}: valid (4 records)\n`);
  });

  it('says in its help that it checks the snapshot, and that a mismatch is a warning', async () => {
    const help = (await runCli(['validate', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('Also checks the snapshot against the log');
    expect(help).toContain('is a warning (stderr), harmless and safe to delete');
    const top = await runCli(['--help']);
    expect(top.stdout).toContain('0  success (warnings, such as a snapshot that does not match');
  });

  it('judges a snapshot on the bytes it scanned, while a live writer appends', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 1 });
    const check = await SnapshotCheck.load(file);
    for await (const line of scanLines(file)) check.see(line);
    appendFileSync(file, '{"type":"note","n":7}\n'.repeat(5)); // after the scan, before the verdict
    expect(await check.report()).toMatchObject({ records: 3, matches: true });
  });

  it('keeps exit 1 for a log with problems, whatever its snapshot', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 2, after: 1 });
    appendFileSync(file, 'oops\n');
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/:4:\d+: not valid JSON/);
  });
});

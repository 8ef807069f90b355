import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileSystemAgentRecordPersistence, snapshotPathOf } from '@agent-records/fs-persistence';
import { describe, expect, it } from 'vitest';
import { runInspect } from '../src/commands/inspect.js';
import { captureIo, META, PROMPT, runCli, tempDir, USAGE, VALID, writeLog } from './helpers.js';
import { logWithSnapshot } from './snapshot-logs.js';

const dir = tempDir('cli-inspect-');

/** A log whose one record holds an image big enough to be moved to the blob folder. */
async function logWithBlob(file: string, blobDir: string): Promise<void> {
  const bytes = Buffer.alloc(6000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 7) % 256;
  const writer = new FileSystemAgentRecordPersistence(file, { blobs: { dir: blobDir } });
  writer.append(JSON.parse(META));
  writer.append({
    type: 'context.append_message',
    image: `data:image/png;base64,${bytes.toString('base64')}`,
  } as never);
  await writer.close();
}

describe('agent-records inspect', () => {
  it('runs in-process through runInspect with captured output and returns its exit code', async () => {
    const captured = captureIo();
    const code = await runInspect({ log: writeLog(dir.path, 's.jsonl', VALID) }, captured.io);
    expect(code).toBe(0);
    expect(captured.stdout).toMatch(/records:\s+4/);
    expect(captured.stderr).toBe('');
  });

  it('says which blob folder it looked in, that it may be wrong, and exits 1 when every referenced blob is missing', async () => {
    const file = path.join(dir.path, 'a.jsonl');
    await logWithBlob(file, path.join(dir.path, 'elsewhere'));
    // The default folder (blobs/ beside the log) does not exist: the blobs are elsewhere.
    const result = await runCli(['inspect', file]);
    expect(result.code).toBe(1);
    const defaultDir = path.join(dir.path, 'blobs');
    expect(result.stdout).toContain(`1 referenced, 0 present (0 B) in ${defaultDir}, 1 missing`);
    expect(result.stdout).toContain(`looked in ${defaultDir}, which does not exist`);
    expect(result.stdout).toContain('--blobs DIR');

    // An existing folder holding none of them gets the same warning; the right one exits 0.
    mkdirSync(path.join(dir.path, 'empty'));
    const empty = await runCli([
      'inspect',
      '--json',
      '--blobs',
      path.join(dir.path, 'empty'),
      file,
    ]);
    expect(empty.code).toBe(1);
    expect(JSON.parse(empty.stdout).blobs).toMatchObject({ dirExists: true, missing: 1 });
    expect(empty.stderr).toContain('holds none of the 1 referenced blobs: the folder may be wrong');
    const right = await runCli(['inspect', '--blobs', path.join(dir.path, 'elsewhere'), file]);
    expect(right.code).toBe(0);
    expect(right.stdout).not.toContain('may be wrong');
  });

  it('does not count an escaped host string blobref:~... as a blob reference', async () => {
    const file = path.join(dir.path, 'e.jsonl');
    const hash = 'a'.repeat(64);
    const writer = new FileSystemAgentRecordPersistence(file, {
      blobs: { dir: path.join(dir.path, 'blobs') },
    });
    writer.append(JSON.parse(META));
    // A host string that looks like a reference: the backend writes it escaped (blobref:~...).
    writer.append({ type: 'turn.prompt', content: `blobref:image/png;${hash}` } as never);
    await writer.close();
    const result = await runCli(['inspect', '--json', file]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).blobs).toBeNull();
  });

  it('reads standard input for -', async () => {
    const result = await runCli(['inspect', '-'], { stdin: VALID });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/records:\s+4/);
    expect(result.stdout).toContain(`file:       - (${VALID.length} B)`);
  });

  it('says 1 record, not 1 records, and labels sizes in KiB/MiB', async () => {
    const big = `{"type":"tool.output","data":"${'x'.repeat(3 * 1024 * 1024)}"}\n`;
    const result = await runCli(['inspect', writeLog(dir.path, 'big.jsonl', `${META}\n${big}`)]);
    expect(result.stdout).toMatch(/metadata\s+1 record\s/);
    expect(result.stdout).not.toMatch(/\b1 records\b/);
    expect(result.stdout).toMatch(/tool\.output\s+1 record\s+3\.0 MiB/);
    expect(result.stdout).not.toMatch(/\d (KB|MB)\b/);
  });

  it('colours problems only on a terminal, and never with NO_COLOR', async () => {
    const file = writeLog(dir.path, 'bad.jsonl', `${META}\nnot json\n`);
    const terminal = await runCli(['inspect', file], { isTTY: true });
    expect(terminal.stdout).toContain('\x1b[31mproblems:\x1b[0m');
    const noColor = await runCli(['inspect', file], { isTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toContain('\x1b[');
    const piped = await runCli(['inspect', file], { isTTY: false });
    expect(piped.stdout).not.toContain('\x1b[');
  });
});

describe('agent-records inspect: snapshot and summary', () => {
  it('shows the snapshot: records it covers, size in KiB/MiB, age, position, and that it matches', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 2, state: { text: 'x'.repeat(3000) } });
    const result = await runCli(['inspect', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^snapshot: {3}covers 3 records, 2\.9 KiB, written (just now|\d+s ago) \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/m,
    );
    expect(result.stdout).toMatch(new RegExp(`^ {12}in ${file}.snapshot at offset=\\d+ `, 'm'));
    expect(result.stdout).toMatch(/^ {12}matches the log$/m);
    const report = JSON.parse((await runCli(['inspect', '--json', file])).stdout);
    expect(report.snapshot).toMatchObject({ records: 3, matches: true });
    expect(report.snapshot.bytes).toBe(JSON.stringify({ text: 'x'.repeat(3000) }).length);
    expect(report.snapshot.data).toBeUndefined(); // the state itself is not printed
  });

  it('says when a snapshot does not match (harmless, exit 0)', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 3, after: 2, claims: 9 });
    const stale = await runCli(['inspect', file]);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toContain('does not match the log (it says it covers 9 records');
    expect(stale.stdout).toContain('a replay ignores it, deleting it is safe');
  });

  it('checks only the position of a snapshot with problem lines before it; problems after it do not matter', async () => {
    const file = path.join(dir.path, 's.jsonl');
    await logWithSnapshot(file, { before: 4, after: 1 });
    appendFileSync(file, 'not json\n');
    const after = await runCli(['inspect', file]);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/^ {12}matches the log$/m);
    // The second line damaged in place, same length: the position (first line, line before it)
    // still matches, but the records before it can no longer be counted.
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = 'x'.repeat((lines[1] as string).length);
    writeFileSync(file, lines.join('\n'));
    const before = await runCli(['inspect', file]);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(
      /^ {12}its position matches; the records before it were not counted \(the log has problem lines before it\)$/m,
    );
    expect(JSON.parse((await runCli(['inspect', '--json', file])).stdout).snapshot.matches).toBe(
      null,
    );
  });

  it('says when a snapshot cannot be read (exit 0), and none when there is none', async () => {
    const damaged = writeLog(dir.path, 'damaged.jsonl', VALID);
    writeFileSync(snapshotPathOf(damaged), 'not a snapshot\n');
    const unreadable = await runCli(['inspect', damaged]);
    expect(unreadable.code).toBe(0);
    expect(unreadable.stdout).toContain(
      `snapshot:   unreadable: ${damaged}.snapshot: it does not start like a snapshot file; a replay ignores it, deleting it is safe`,
    );
    const none = await runCli(['inspect', writeLog(dir.path, 'plain.jsonl', VALID)]);
    expect(none.stdout).toMatch(/^snapshot: {3}none$/m);
    expect(
      JSON.parse((await runCli(['inspect', '--json', '-'], { stdin: VALID })).stdout).snapshot,
    ).toBeNull();
  });

  it('shows the session summary the writer keeps (title, created, updated, records, bytes), or none', async () => {
    const file = path.join(dir.path, 'titled.jsonl');
    const writer = new FileSystemAgentRecordPersistence(file);
    writer.append(JSON.parse(META));
    writer.append(JSON.parse(PROMPT));
    writer.setTitle('Summarise the README');
    await writer.close();
    const size = statSync(file).size;
    const result = await runCli(['inspect', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^summary: {4}"Summarise the README", created 2025-11-24T16:00:00.000Z, updated (just now|\\d+s ago) \\([^)]+\\), 2 records, ${size} B$`,
        'm',
      ),
    );
    const report = JSON.parse((await runCli(['inspect', '--json', file])).stdout);
    expect(report.summary).toMatchObject({
      file: `${file}.summary.json`,
      title: 'Summarise the README',
      records: 2,
      bytes: size,
      current: true,
    });
    // Written to behind the writer's back: the summary is older than the log, and says so.
    appendFileSync(file, `${USAGE}\n`);
    const older = await runCli(['inspect', file]);
    expect(older.stdout).toContain('older than the log');
    const plain = await runCli(['inspect', writeLog(dir.path, 'plain.jsonl', VALID)]);
    expect(plain.stdout).toMatch(/^summary: {4}none$/m);
  });
});

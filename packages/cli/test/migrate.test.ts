import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { readLogSummary, snapshotPathOf } from '@agent-records/fs-persistence';
import { describe, expect, it } from 'vitest';
import { META, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-migrate-');
const MIGRATIONS = `export const migrations = [
  { sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => ({ ...r, migrated: true }) },
];`;
const OLD = `${META}\n{"type":"turn.prompt","turn_id":"t1","text":"old field","time":5}\n`;

describe('agent-records migrate', () => {
  it('migrate keeps the original as <log>.backup-<time> like repair, and says where', async () => {
    const modulePath = path.join(dir.path, 'migrations.mjs');
    writeFileSync(modulePath, MIGRATIONS);
    const file = writeLog(dir.path, 'old.jsonl', OLD);
    const result = await runCli(['migrate', file, '--migrations', modulePath]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const backups = readdirSync(dir.path).filter((f) => f.startsWith('old.jsonl.backup-'));
    expect(backups).toHaveLength(1);
    const backup = path.join(dir.path, backups[0] as string);
    expect(readFileSync(backup, 'utf8')).toBe(OLD);
    expect(result.stdout).toContain(`original kept as ${backup}`);
    expect(result.stdout).toContain('migrated 1.0 -> 1.1: 2 records replayed, 2 records written');
    expect(readFileSync(file, 'utf8')).toContain('"migrated":true');
  });

  it('leaves no backup when there was nothing to migrate, on a dry run, or when the chain fails', async () => {
    const modulePath = path.join(dir.path, 'migrations.mjs');
    writeFileSync(modulePath, MIGRATIONS);
    const file = writeLog(dir.path, 'old.jsonl', OLD);
    expect((await runCli(['migrate', file, '--migrations', modulePath, '--dry-run'])).code).toBe(0);
    const missingLink = await runCli(['migrate', file, '--migrations', modulePath, '--to', '1.3']);
    expect(missingLink.code).toBe(5);
    const current = writeLog(dir.path, 'new.jsonl', OLD.replace('"1.0"', '"1.1"'));
    const nothing = await runCli(['migrate', current, '--migrations', modulePath]);
    expect(nothing.stdout).toContain('nothing to migrate');
    expect(readdirSync(dir.path).filter((f) => f.includes('.backup-'))).toEqual([]);
  });
});

/** Every file name changed in `folder` (created, renamed, removed), in the order the kernel saw. */
function watchFolder(folder: string): { names: string[]; close(): void } {
  const names: string[] = [];
  const watcher = watch(folder, (_event, name) => {
    if (name) names.push(name.toString());
  });
  return { names, close: () => watcher.close() };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('agent-records migrate: the snapshot and summary beside the log', () => {
  it('deletes the snapshot before the migrated log replaces the old one, and brings the summary up to date', async () => {
    const modulePath = path.join(dir.path, 'migrations.mjs');
    writeFileSync(modulePath, MIGRATIONS);
    const file = writeLog(dir.path, 'old.jsonl', OLD);
    const snapshot = snapshotPathOf(file);
    writeFileSync(snapshot, 'a snapshot of the 1.0 log\n');
    const watched = watchFolder(dir.path);
    try {
      const result = await runCli(['migrate', file, '--migrations', modulePath]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('deleted its snapshot');
      await until(() => watched.names.includes('old.jsonl'), 'the rename of the migrated log');
      const snapshotGone = watched.names.indexOf(path.basename(snapshot));
      expect(snapshotGone).toBeGreaterThanOrEqual(0);
      expect(snapshotGone).toBeLessThan(watched.names.indexOf('old.jsonl'));
    } finally {
      watched.close();
    }
    expect(existsSync(snapshot)).toBe(false);
    const summary = await readLogSummary(file);
    const now = statSync(file);
    expect(summary).toMatchObject({ records: 2, bytes: now.size, ino: now.ino });
  });

  it('keeps the snapshot on a dry run and when there is nothing to migrate', async () => {
    const modulePath = path.join(dir.path, 'migrations.mjs');
    writeFileSync(modulePath, MIGRATIONS);
    const file = writeLog(dir.path, 'old.jsonl', OLD);
    writeFileSync(snapshotPathOf(file), 'kept\n');
    const dry = await runCli(['migrate', file, '--migrations', modulePath, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(existsSync(snapshotPathOf(file))).toBe(true);
    const current = writeLog(dir.path, 'new.jsonl', OLD.replace('"1.0"', '"1.1"'));
    writeFileSync(snapshotPathOf(current), 'kept\n');
    const nothing = await runCli(['migrate', current, '--migrations', modulePath]);
    expect(nothing.stdout).toContain('nothing to migrate');
    expect(existsSync(snapshotPathOf(current))).toBe(true);
  });

  it('leaves the log as it was when its snapshot cannot be deleted first, and names it', async () => {
    const modulePath = path.join(dir.path, 'migrations.mjs');
    writeFileSync(modulePath, MIGRATIONS);
    const file = writeLog(dir.path, 'old.jsonl', OLD);
    // A folder where the snapshot file goes: unlink refuses it, for root too.
    mkdirSync(snapshotPathOf(file));
    writeFileSync(path.join(snapshotPathOf(file), 'inside'), 'x');
    const result = await runCli(['migrate', file, '--migrations', modulePath]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(snapshotPathOf(file));
    const backup = readdirSync(dir.path).find((f) => f.startsWith('old.jsonl.backup-')) as string;
    expect(result.stderr).toContain(`The original is kept as ${path.join(dir.path, backup)}.`);
    expect(readFileSync(file, 'utf8')).toBe(OLD);
  });
});

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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

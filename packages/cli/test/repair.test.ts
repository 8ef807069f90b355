import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { FileSystemAgentRecordStore, snapshotPathOf } from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { runRepair } from '../src/commands/repair.js';
import { captureIo, META, PROMPT, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-repair-');

describe('agent-records repair', () => {
  it('runs in-process: moves a bad line aside, says where the backup and the quarantine are', async () => {
    const original = `${META}\nnot json\n${PROMPT}\n`;
    const file = writeLog(dir.path, 'r.jsonl', original);
    const dry = captureIo();
    expect(await runRepair({ log: file, dryRun: true }, dry.io)).toBe(1);
    expect(dry.stdout).toContain('dry run: 2 lines would stay; nothing was changed');
    const captured = captureIo();
    expect(await runRepair({ log: file }, captured.io)).toBe(0);
    const backup = /original kept as (.+)$/m.exec(captured.stdout)?.[1] as string;
    const quarantine = /moved lines are in (.+)$/m.exec(captured.stdout)?.[1] as string;
    expect(readFileSync(backup, 'utf8')).toBe(original);
    expect(readFileSync(quarantine, 'utf8')).toBe('not json\n');
    expect(readFileSync(file, 'utf8')).toBe(`${META}\n${PROMPT}\n`);
    const again = captureIo();
    expect(await runRepair({ log: file }, again.io)).toBe(0);
    expect(again.stdout).toBe(`${file}: nothing to repair (2 records)\n`);
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

describe('agent-records repair: the snapshot beside the log', () => {
  it('deletes the snapshot before it replaces the log, and says so', async () => {
    const file = writeLog(dir.path, 'r.jsonl', `${META}\nnot json\n${PROMPT}\n`);
    const snapshot = snapshotPathOf(file);
    writeFileSync(snapshot, 'a snapshot of the log as it was\n');
    const watched = watchFolder(dir.path);
    try {
      const captured = captureIo();
      expect(await runRepair({ log: file }, captured.io)).toBe(0);
      expect(captured.stdout).toContain('deleted its snapshot');
      // The repaired log's rename into place is the first change under the log's own name.
      await until(() => watched.names.includes(path.basename(file)), 'the rename of the log');
      const snapshotGone = watched.names.indexOf(path.basename(snapshot));
      expect(snapshotGone).toBeGreaterThanOrEqual(0);
      expect(snapshotGone).toBeLessThan(watched.names.indexOf(path.basename(file)));
    } finally {
      watched.close();
    }
    expect(existsSync(snapshot)).toBe(false);
  });

  it('keeps the snapshot when nothing is repaired, and on a dry run', async () => {
    const good = writeLog(dir.path, 'good.jsonl', `${META}\n${PROMPT}\n`);
    writeFileSync(snapshotPathOf(good), 'kept\n');
    const nothing = captureIo();
    expect(await runRepair({ log: good }, nothing.io)).toBe(0);
    expect(nothing.stdout).not.toContain('snapshot');
    expect(existsSync(snapshotPathOf(good))).toBe(true);
    const bad = writeLog(dir.path, 'bad.jsonl', `${META}\nnot json\n`);
    writeFileSync(snapshotPathOf(bad), 'kept\n');
    expect(await runRepair({ log: bad, dryRun: true }, captureIo().io)).toBe(1);
    expect(existsSync(snapshotPathOf(bad))).toBe(true);
  });

  it('leaves the log as it was when its snapshot cannot be deleted first (exit 3, says what to do)', async () => {
    const original = `${META}\nnot json\n`;
    const file = writeLog(dir.path, 'r.jsonl', original);
    // A folder where the snapshot file goes: unlink refuses it, for root too.
    mkdirSync(snapshotPathOf(file));
    const result = await runCli(['repair', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `${file}: not repaired: its snapshot could not be deleted first`,
    );
    expect(result.stderr).toContain('run repair again');
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(readdirSync(dir.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves the session listed with its repaired count and its title kept', async () => {
    const root = path.join(dir.path, 'store');
    const store = new FileSystemAgentRecordStore(root);
    const writer = store.open<AgentRecordEnvelope>('s1');
    writer.append(JSON.parse(META));
    writer.append(JSON.parse(PROMPT));
    writer.setTitle('Repaired session');
    await writer.close();
    appendFileSync(store.fileOf('s1'), 'not json\n{"type":"note"}\n');
    expect(await runRepair({ log: store.fileOf('s1') }, captureIo().io)).toBe(0);
    const [listed] = await store.list();
    expect(listed).toMatchObject({ id: 's1', records: 3, title: 'Repaired session' });
    expect(listed?.bytes).toBe(statSync(store.fileOf('s1')).size);
  });
});

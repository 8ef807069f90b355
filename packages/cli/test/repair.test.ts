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
import { AgentRecords } from '@agent-records/core';
import {
  FileSystemAgentRecordPersistence,
  FileSystemAgentRecordStore,
  readLogSummary,
  snapshotPathOf,
  summaryPathOf,
} from '@agent-records/fs-persistence';
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
    expect(again.stdout).toBe(`${file}: nothing to repair (2 lines)\n`);
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

/** A host with a counter as its state, its records logged through the core with snapshots. */
function counterHost(file: string) {
  const state = { total: 0 };
  const records = new AgentRecords<AgentRecordEnvelope>({
    persistence: new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file),
    protocolVersion: '1.0',
    restore: (record) => {
      if (record.type === 'add') state.total += (record as unknown as { n: number }).n;
    },
    snapshots: {
      take: () => ({ ...state }),
      restore: (saved) => Object.assign(state, saved as typeof state),
      version: 1,
    },
    onError: () => {},
  });
  return { state, records };
}

describe('agent-records repair: the summary beside the log', () => {
  it('brings the summary up to date for the repaired log, keeping its title', async () => {
    const root = path.join(dir.path, 'store');
    const store = new FileSystemAgentRecordStore(root);
    for (const [id, title] of [
      ['plain', undefined],
      ['titled', 'Keep me'],
    ] as const) {
      const writer = store.open<AgentRecordEnvelope>(id);
      writer.append(JSON.parse(META));
      if (title) writer.setTitle(title);
      await writer.close();
      appendFileSync(store.fileOf(id), 'not json\n');
      expect(existsSync(summaryPathOf(store.fileOf(id)))).toBe(true);
      expect(await runRepair({ log: store.fileOf(id) }, captureIo().io)).toBe(0);
      // The summary describes the repaired file itself (its inode and size), not the old one.
      const summary = await readLogSummary(store.fileOf(id));
      const stats = statSync(store.fileOf(id));
      expect(summary).toMatchObject({ ino: stats.ino, bytes: stats.size, records: 1 });
      expect(summary?.title).toBe(title);
    }
    const listed = await store.list();
    expect(listed.map((s) => [s.id, s.records, s.title])).toEqual(
      expect.arrayContaining([
        ['plain', 1, undefined],
        ['titled', 1, 'Keep me'],
      ]),
    );
  });
});

describe('agent-records repair: a snapshot the core took', () => {
  it('validate says it matches; after repair a resume never applies it and rebuilds the state in full', async () => {
    const file = path.join(dir.path, 'host.jsonl');
    const live = counterHost(file);
    await live.records.replay();
    for (const n of [1, 2, 3]) {
      live.state.total += n;
      live.records.logRecord({ type: 'add', n } as never);
    }
    live.records.snapshot();
    live.state.total += 10;
    live.records.logRecord({ type: 'add', n: 10 } as never);
    await live.records.close();

    const valid = await runCli(['validate', file]);
    expect(valid.code).toBe(0);
    expect(valid.stderr).toBe(
      `${file}: valid (5 records; its snapshot, covering 4 records, matches)\n`,
    );
    const resumed = counterHost(file);
    expect((await resumed.records.replay()).fromSnapshot?.records).toBe(4);
    expect(resumed.state.total).toBe(16);
    await resumed.records.close();

    appendFileSync(file, 'torn {"type":"add"');
    const repaired = captureIo();
    expect(await runRepair({ log: file }, repaired.io)).toBe(0);
    expect(repaired.stdout).toContain('deleted its snapshot');
    expect((await runCli(['validate', file])).stderr).toBe(`${file}: valid (5 records)\n`);
    const after = counterHost(file);
    const replay = await after.records.replay();
    expect(replay.fromSnapshot).toBeUndefined();
    expect(replay.records).toBe(5);
    expect(after.state.total).toBe(16);
    await after.records.close();
  });
});

describe('repair of a log with blank lines', () => {
  it('counts the lines it keeps as lines, not records (a blank line is no record)', async () => {
    const file = writeLog(dir.path, 'blank.jsonl', `${META}\n\n${PROMPT}\n`);
    const captured = captureIo();
    expect(await runRepair({ log: file }, captured.io)).toBe(0);
    expect(captured.stdout).toBe(`${file}: nothing to repair (3 lines)\n`);
  });
});

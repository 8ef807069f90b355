import {
  appendFileSync,
  existsSync,
  mkdirSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { COUNT_LIMIT_BYTES } from './list.js';
import { FileSystemAgentRecordStore } from './store.js';
import { readLogSummary, summaryPathOf } from './summary.js';

type Rec = AgentRecordEnvelope & { n?: number };
const temp = useTempDir('fs-list-');

/** A session of `records` records, closed, its log's mtime set to `updatedAt` (seconds). */
async function session(
  store: FileSystemAgentRecordStore,
  id: string,
  records: number,
  updatedAt: number,
  title?: string,
): Promise<void> {
  const log = store.open<Rec>(id);
  log.append({ type: 'metadata', created_at: 1000 + records } as Rec);
  for (let n = 1; n < records; n++) log.append({ type: 'r', n });
  if (title !== undefined) log.setTitle(title);
  await log.close();
  utimesSync(store.fileOf(id), updatedAt, updatedAt);
}

describe('FileSystemAgentRecordStore.list', () => {
  it('lists from summaries, newest activity first, then by id, with titles and counts', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await session(store, 'old', 2, 1_000);
    await session(store, 'new', 5, 3_000, 'The newest');
    await session(store, 'tie-b', 3, 2_000);
    await session(store, 'tie-a', 4, 2_000);
    const listed = await store.list();
    expect(listed.map((s) => [s.id, s.updatedAt, s.records, s.title])).toEqual([
      ['new', 3_000_000, 5, 'The newest'],
      ['tie-a', 2_000_000, 4, undefined],
      ['tie-b', 2_000_000, 3, undefined],
      ['old', 1_000_000, 2, undefined],
    ]);
    const newest = listed[0];
    expect(newest).toMatchObject({
      createdAt: 1005,
      file: store.fileOf('new'),
      size: newest?.bytes,
      modifiedAt: newest?.updatedAt, // the deprecated aliases
    });
  });

  it('pages with limit and after, and a session written between pages moves to the front', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    for (let i = 0; i < 7; i++) await session(store, `s${i}`, 1, 1_000 + i);
    const first = await store.list({ limit: 3 });
    expect(first.map((s) => s.id)).toEqual(['s6', 's5', 's4']);
    utimesSync(store.fileOf('s0'), 5_000, 5_000); // s0 is written to meanwhile
    const second = await store.list({ limit: 3, after: first.at(-1) });
    expect(second.map((s) => s.id)).toEqual(['s3', 's2', 's1']);
    const rest = await store.list({ after: second.at(-1) });
    expect(rest.map((s) => s.id)).toEqual([]);
    expect((await store.list({ limit: 0 })).length).toBe(0);
  });

  it('gives whole milliseconds, so a cursor rounded by a host still names the same place', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    // Times with a fraction of a millisecond, as file systems keep them.
    for (let i = 0; i < 4; i++) {
      await session(store, `f${i}`, 1, 0);
      utimesSync(store.fileOf(`f${i}`), 2_000 + i + 0.0004567, 2_000 + i + 0.0004567);
    }
    const all = await store.list();
    for (const s of all) {
      expect(Number.isInteger(s.updatedAt)).toBe(true);
      expect(Number.isInteger(s.createdAt)).toBe(true);
    }
    const cursor = all[1] as (typeof all)[number];
    const rounded = { id: cursor.id, updatedAt: Math.round(cursor.updatedAt) };
    const page = await store.list({ limit: 2, after: JSON.parse(JSON.stringify(rounded)) });
    expect(page.map((s) => s.id)).toEqual(['f1', 'f0']);
  });

  it('counts what a stale summary misses when it is small, and leaves records out when not', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await session(store, 'grown', 3, 1_000);
    appendFileSync(store.fileOf('grown'), '{"type":"r"}\n{"type":"r"}\n'); // no summary update
    await session(store, 'huge', 2, 1_000);
    appendFileSync(store.fileOf('huge'), `{"type":"r","pad":"${'x'.repeat(COUNT_LIMIT_BYTES)}"}\n`);
    const byId = Object.fromEntries((await store.list()).map((s) => [s.id, s]));
    expect(byId.grown?.records).toBe(5);
    expect(byId.huge?.records).toBeUndefined(); // never reads a whole log
    expect(byId.huge?.bytes).toBeGreaterThan(COUNT_LIMIT_BYTES);
  });

  it('without a summary: counts a small log, takes createdAt from its first line', async () => {
    mkdirSync(temp.dir, { recursive: true });
    const store = new FileSystemAgentRecordStore(temp.dir);
    writeFileSync(store.fileOf('legacy'), '{"type":"metadata","created_at":77}\n{"type":"a"}\n');
    writeFileSync(
      store.fileOf('big-legacy'),
      `{"type":"a","pad":"${'x'.repeat(COUNT_LIMIT_BYTES)}"}\n`,
    );
    const byId = Object.fromEntries((await store.list()).map((s) => [s.id, s]));
    expect(byId.legacy).toMatchObject({ records: 2, createdAt: 77 });
    expect(byId['big-legacy']?.records).toBeUndefined();
    expect(byId['big-legacy']?.createdAt).toBeGreaterThan(0);
  });

  it('ignores a summary of a replaced log for the count, keeps its title', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await session(store, 'x', 3, 1_000, 'Kept');
    const file = store.fileOf('x');
    const summary = await readLogSummary(file);
    // Replaced with a file of the same size by another tool: another inode.
    writeFileSync(`${file}.new`, 'x'.repeat(Number(summary?.bytes) - 1).concat('\n'));
    renameSync(`${file}.new`, file);
    const [listed] = await store.list();
    expect(listed?.records).toBe(1);
    expect(listed?.title).toBe('Kept');
  });

  it('delete() removes the log, its snapshot and its summary', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await session(store, 'gone', 2, 1_000, 'Bye');
    const file = store.fileOf('gone');
    writeFileSync(`${file}.snapshot`, 'whatever');
    expect(existsSync(summaryPathOf(file))).toBe(true);
    expect(await store.delete('gone')).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.snapshot`)).toBe(false);
    expect(existsSync(summaryPathOf(file))).toBe(false);
    expect(await store.list()).toEqual([]);
  });
});

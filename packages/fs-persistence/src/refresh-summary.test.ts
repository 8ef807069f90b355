import { appendFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type AgentRecordEnvelope, RecordsInvalidSessionIdError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { refreshLogSummary } from './refresh-summary.js';
import { FileSystemAgentRecordStore } from './store.js';
import { readLogSummary } from './summary.js';

type Rec = AgentRecordEnvelope & { n?: number };
const temp = useTempDir('fs-refresh-summary-');

async function writeSession(store: FileSystemAgentRecordStore, id: string, records: number) {
  const log = store.open<Rec>(id);
  log.append({ type: 'metadata', created_at: 4242 } as Rec);
  for (let n = 1; n < records; n++) log.append({ type: 'r', n });
  log.setTitle(`title of ${id}`);
  await log.close();
}

describe('refreshLogSummary', () => {
  it('recounts a log changed without the writer, keeping the title and createdAt', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await writeSession(store, 'a', 5);
    const file = store.fileOf('a');
    // A tool (repair) rewrites the log: 3 records now, another inode.
    writeFileSync(`${file}.new`, '{"type":"metadata","created_at":1}\n{"type":"r"}\n{"type":"r"}');
    renameSync(`${file}.new`, file);
    const written = await refreshLogSummary(file);
    const stored = await readLogSummary(file);
    expect(stored).toEqual(written);
    expect(stored).toMatchObject({
      records: 3, // the last line lacks its newline: it counts
      bytes: statSync(file).size,
      ino: statSync(file).ino,
      title: 'title of a',
      createdAt: 4242,
    });
    expect(stored?.log).not.toBe('');
    const [listed] = await store.list();
    expect(listed).toMatchObject({ id: 'a', records: 3, title: 'title of a' });
  });

  it('without a summary takes createdAt from the first record; a missing log is null', async () => {
    const file = path.join(temp.dir, 'plain.jsonl');
    writeFileSync(file, '{"type":"metadata","created_at":777}\n{"type":"r"}\n');
    expect(await refreshLogSummary(file)).toMatchObject({ records: 2, createdAt: 777 });
    expect(await refreshLogSummary(path.join(temp.dir, 'none.jsonl'))).toBeNull();
    writeFileSync(path.join(temp.dir, 'empty.jsonl'), '');
    expect(await refreshLogSummary(path.join(temp.dir, 'empty.jsonl'))).toMatchObject({
      records: 0,
      bytes: 0,
      log: '',
    });
  });
});

describe('FileSystemAgentRecordStore.summaryOf', () => {
  it('is the entry list() shows for that session, without listing; null when it has no log', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    await writeSession(store, 'one', 4);
    await writeSession(store, 'two', 7);
    utimesSync(store.fileOf('one'), 100, 100);
    appendFileSync(store.fileOf('two'), '{"type":"r","n":7}\n'); // the summary is stale by a line
    const listed = await store.list();
    expect(await store.summaryOf('one')).toEqual(listed.find((s) => s.id === 'one'));
    expect(await store.summaryOf('two')).toEqual(listed.find((s) => s.id === 'two'));
    expect(await store.summaryOf('two')).toMatchObject({ records: 8, title: 'title of two' });
    expect(await store.summaryOf('three')).toBeNull();
    await expect(store.summaryOf('../x')).rejects.toBeInstanceOf(RecordsInvalidSessionIdError);
  });
});

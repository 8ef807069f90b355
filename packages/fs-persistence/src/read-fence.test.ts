// The fence: an instance that read the log (a replay) and then writes must find, under the lock,
// the log it read; else its state diverged and it is refused for good (RecordsConflictError).
import {
  appendFileSync,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { AgentRecords } from '@agent-records/core';
import {
  type AgentRecordEnvelope,
  RecordsConflictError,
  type RecordsErrorInfo,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { imageDataUri } from '../test/blob-fixtures.js';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { positionAt, positionRead } from './position.js';
import { FileSystemAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & {
  n?: number;
  image?: string;
  protocol_version?: string;
  created_at?: number;
};

const temp = useTempDir('fs-fence-');
const meta = { type: 'metadata', protocol_version: '1.0', created_at: 1 };
const line = (record: object) => `${JSON.stringify(record)}\n`;

function reports() {
  const seen: Array<{ error: Error; info: RecordsErrorInfo }> = [];
  return { seen, onError: (error: Error, info: RecordsErrorInfo) => seen.push({ error, info }) };
}

/** A log of metadata and `n` records, written by a writer that closed. */
async function writtenLog(file: string, n: number): Promise<void> {
  const writer = new FileSystemAgentRecordPersistence<Rec>(file);
  writer.append(meta);
  for (let i = 0; i < n; i++) writer.append({ type: 'x', n: i });
  await writer.close();
}

/** Opens `file`, reads it all (a replay), and returns the instance, idle. */
async function replayed(file: string, onError = reports().onError) {
  const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
  const records = await readAll(persistence);
  return { persistence, records };
}

/** The log diverged: the write is refused for good, nothing of it written, the lock released. */
async function expectRefused(
  persistence: FileSystemAgentRecordPersistence<Rec>,
  seen: ReturnType<typeof reports>['seen'],
): Promise<void> {
  persistence.append({ type: 'x', n: 100 });
  await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsConflictError);
  expect(existsSync(persistence.lockFile)).toBe(false);
  // For good: a later append is not written either, and close() says so.
  persistence.append({ type: 'x', n: 101 });
  await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsConflictError);
  await expect(persistence.close()).rejects.toBeInstanceOf(RecordsConflictError);
  expect(seen.filter((r) => r.error instanceof RecordsConflictError)).toHaveLength(1);
  if (existsSync(persistence.file)) {
    expect(readFileSync(persistence.file, 'utf8')).not.toContain('"n":10');
  }
}

describe('a writer that read the log first (the fence)', () => {
  it('is refused when the store deleted the session between its replay and its first write', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    const errors: string[] = [];
    const agent = () =>
      new AgentRecords({
        persistence: store.open('s1'),
        protocolVersion: '1.0',
        restore: () => {},
        onError: (error, info) => errors.push(`${info.kind} ${(error as { code?: string }).code}`),
      });
    const first = agent();
    await first.replay();
    first.logRecord({ type: 'turn.prompt', text: 'one' } as never);
    await first.close();

    const resumed = agent();
    expect((await resumed.replay()).records).toBe(2);
    expect(await store.delete('s1')).toBe(true);
    resumed.logRecord({ type: 'turn.prompt', text: 'two' } as never);
    await expect(resumed.close()).rejects.toBeInstanceOf(RecordsConflictError);
    expect(errors).toContain('write-failed RECORDS_CONFLICT');
    // No log holding a lone record without metadata: the session stays deleted.
    expect(existsSync(store.fileOf('s1'))).toBe(false);
    expect(existsSync(`${store.fileOf('s1')}.lock`)).toBe(false);
    expect((await agent().replay()).records).toBe(0);
  });

  it('is refused when the log was deleted (no store) and creates no file', async () => {
    const file = path.join(temp.dir, 'deleted.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    unlinkSync(file);
    await expectRefused(persistence, seen);
    expect(existsSync(file)).toBe(false);
  });

  it('is refused when another file was renamed over the log', async () => {
    const file = path.join(temp.dir, 'replaced.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    const replacement = line(meta) + line({ type: 'x', n: 0 }) + line({ type: 'x', n: 1 });
    writeFileSync(`${file}.new`, replacement);
    renameSync(`${file}.new`, file);
    await expectRefused(persistence, seen);
    expect(readFileSync(file, 'utf8')).toBe(replacement);
  });

  it('is refused when another instance rewrote the log (a migrate)', async () => {
    const file = path.join(temp.dir, 'rewritten.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    const migrate = new FileSystemAgentRecordPersistence<Rec>(file);
    migrate.rewrite([
      { ...meta, protocol_version: '2.0' },
      { type: 'y', n: 0 },
    ]);
    await migrate.close();
    await expectRefused(persistence, seen);
    expect((await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).length).toBe(2);
  });

  it('is refused when another writer appended between its read and its first write', async () => {
    const file = path.join(temp.dir, 'appended.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    const other = new FileSystemAgentRecordPersistence<Rec>(file);
    other.append({ type: 'other', n: 7 });
    await other.close();
    await expectRefused(persistence, seen);
    const after = await readAll(new FileSystemAgentRecordPersistence<Rec>(file));
    expect(after.map((r) => r.type)).toEqual(['metadata', 'x', 'x', 'other']);
  });

  it('is refused when the log was cut shorter than it read', async () => {
    const file = path.join(temp.dir, 'cut.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, `${lines.slice(0, 2).join('\n')}\n`); // in place: the same inode
    await expectRefused(persistence, seen);
  });

  it('is refused when the last line it read was changed in place to the same length', async () => {
    const file = path.join(temp.dir, 'same-length.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('"n":1}', '"n":9}')); // in place: the same inode and size
    await expectRefused(persistence, seen);
  });

  it('fences on the position positionAt gives for the end it read', async () => {
    const file = path.join(temp.dir, 'position.jsonl');
    await writtenLog(file, 3);
    const fd = await nodeFileOperations.open(file, 'r');
    try {
      const end = statSync(file).size;
      const read = await positionRead(nodeFileOperations, fd, end);
      const at = await positionAt(nodeFileOperations, fd, end, end);
      expect({ offset: read.offset, fingerprint: read.fingerprint, log: read.log }).toEqual(at);
      expect(at.fingerprint).not.toBe('');
    } finally {
      await nodeFileOperations.close(fd);
    }
  });

  it('is refused when a log it read as absent was written by another writer meanwhile', async () => {
    const file = path.join(temp.dir, 'raced.jsonl');
    const { seen, onError } = reports();
    const { persistence, records } = await replayed(file, onError);
    expect(records).toEqual([]);
    await writtenLog(file, 1);
    await expectRefused(persistence, seen);
  });

  it('writes as usual when the log it read is unchanged: absent, empty, or with records', async () => {
    const file = path.join(temp.dir, 'life.jsonl');
    const { seen, onError } = reports();
    // A new session: read as absent, then created.
    const first = (await replayed(file, onError)).persistence;
    first.append(meta);
    first.append({ type: 'x', n: 0 });
    await first.flush();
    first.append({ type: 'x', n: 1 }); // after an idle flush, the writer still holds the log
    await first.close();
    // Resumed: read, idle, write, close; twice.
    for (const n of [2, 3]) {
      const resumed = await replayed(file, onError);
      expect(resumed.records).toHaveLength(n + 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      resumed.persistence.append({ type: 'x', n });
      await resumed.persistence.close();
    }
    expect((await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).length).toBe(5);
    // An empty file reads as an empty log.
    const empty = path.join(temp.dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const fresh = (await replayed(empty, onError)).persistence;
    fresh.append(meta);
    await fresh.close();
    expect(seen).toEqual([]);
  });

  it('writes when it read a log whose torn tail its own first open cuts', async () => {
    const file = path.join(temp.dir, 'torn.jsonl');
    await writtenLog(file, 1);
    appendFileSync(file, '{"type":"x","n":');
    const { seen, onError } = reports();
    const { persistence, records } = await replayed(file, onError);
    expect(records).toHaveLength(2);
    persistence.append({ type: 'x', n: 1 });
    await persistence.close();
    expect(seen.map((r) => r.info.kind)).toEqual(['warning']);
    expect((await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).length).toBe(3);
  });

  it('writes when its first write is its own rewrite (a migrating replay), and appends after it', async () => {
    const file = path.join(temp.dir, 'own-rewrite.jsonl');
    await writtenLog(file, 2);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    persistence.rewrite([
      { ...meta, protocol_version: '2.0' },
      { type: 'y', n: 0 },
    ]);
    persistence.append({ type: 'y', n: 1 });
    await persistence.close();
    expect(seen).toEqual([]);
    const after = await readAll(new FileSystemAgentRecordPersistence<Rec>(file));
    expect(after.map((r) => r.type)).toEqual(['metadata', 'y', 'y']);
  });

  it('writes when it never read (no fence): it appends to whatever the log holds', async () => {
    const file = path.join(temp.dir, 'blind.jsonl');
    await writtenLog(file, 1);
    const blind = new FileSystemAgentRecordPersistence<Rec>(file);
    blind.append({ type: 'x', n: 1 });
    await blind.close();
    expect((await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).length).toBe(3);
  });

  it('fences on its latest read before writing (as pg adopts the head a read saw)', async () => {
    const file = path.join(temp.dir, 'reread.jsonl');
    await writtenLog(file, 1);
    const { seen, onError } = reports();
    const { persistence } = await replayed(file, onError);
    await writtenLog(file, 0); // another writer appends (a metadata record)
    expect(await readAll(persistence)).toHaveLength(3); // read again: it now knows that log
    persistence.append({ type: 'x', n: 1 });
    await persistence.close();
    expect(seen).toEqual([]);
  });

  it('with blobs: resumes a log of blob refs, and a refused write points at no blob', async () => {
    const file = path.join(temp.dir, 'blobs.jsonl');
    const blobs = { dir: path.join(temp.dir, 'blobs') };
    const { seen, onError } = reports();
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { blobs });
    writer.append(meta);
    writer.append({ type: 'x', image: imageDataUri(8000, 1) });
    await writer.close();
    const resumed = new FileSystemAgentRecordPersistence<Rec>(file, { blobs, onError });
    expect((await readAll(resumed))[1]?.image).toBe(imageDataUri(8000, 1));
    resumed.append({ type: 'x', image: imageDataUri(8000, 2) });
    await resumed.close();
    expect(seen).toEqual([]);
    const again = new FileSystemAgentRecordPersistence<Rec>(file, { blobs, onError });
    expect((await readAll(again)).map((r) => r.image?.length)).toEqual([
      undefined,
      imageDataUri(8000, 1).length,
      imageDataUri(8000, 2).length,
    ]);
    unlinkSync(file);
    again.append({ type: 'x', image: imageDataUri(8000, 3) });
    await expect(again.close()).rejects.toBeInstanceOf(RecordsConflictError);
    expect(existsSync(file)).toBe(false);
  });
});

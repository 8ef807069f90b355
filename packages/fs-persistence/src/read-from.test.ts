import {
  appendFileSync,
  copyFileSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  type RecordsBatch,
  RecordsCorruptError,
  type RecordsPosition,
  RecordsPositionError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { imageDataUri } from '../test/blob-fixtures.js';
import { ioError, openOnFaultyDisk } from '../test/faulty-fs.js';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { logPositionProblem } from './position.js';

type Rec = AgentRecordEnvelope & { n: number; pad?: string };
const temp = useTempDir('fs-read-from-');

async function batchesFrom(
  persistence: FileSystemAgentRecordPersistence<Rec>,
  position: RecordsPosition | null,
): Promise<RecordsBatch<Rec>[]> {
  const out: RecordsBatch<Rec>[] = [];
  for await (const batch of persistence.readFrom(position)) out.push(batch);
  return out;
}

const numbers = (batches: RecordsBatch<Rec>[]) => batches.flatMap((b) => b.records.map((r) => r.n));

/** A log of `count` records written and closed; returns its path. */
async function logOf(count: number, name = 'log.jsonl', pad = ''): Promise<string> {
  const file = path.join(temp.dir, name);
  const writer = new FileSystemAgentRecordPersistence<Rec>(file);
  for (let n = 0; n < count; n++) writer.append({ type: 'r', n, pad });
  await writer.close();
  return file;
}

/** The end position after the record numbered `n`, as a full read hands it out. */
async function endAfter(file: string, n: number): Promise<RecordsPosition> {
  const reader = new FileSystemAgentRecordPersistence<Rec>(file);
  for await (const batch of reader.readFrom(null)) {
    if (batch.records.at(-1)?.n === n && batch.end) return batch.end;
  }
  throw new Error(`no batch ends at record ${n}`);
}

async function rejectionOf(iterable: AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of iterable) return new Error('yielded a batch');
  } catch (error) {
    return error;
  }
  return new Error('completed');
}

describe('readFrom', () => {
  it('reads every record from null, each batch with the position after it, and on from any of them', async () => {
    const file = await logOf(3000, 'log.jsonl', 'x'.repeat(200)); // > 256 KiB: several batches
    const reader = new FileSystemAgentRecordPersistence<Rec>(file);
    const all = await batchesFrom(reader, null);
    expect(all.length).toBeGreaterThan(2);
    expect(numbers(all)).toEqual(Array.from({ length: 3000 }, (_, n) => n));
    let before = 0;
    for (const batch of all) {
      before += batch.records.length;
      expect(batch.end).not.toBeNull();
      const rest = await batchesFrom(reader, batch.end);
      expect(numbers(rest)).toEqual(Array.from({ length: 3000 - before }, (_, n) => n + before));
    }
  });

  it('a position stays valid while the log grows, across instances', async () => {
    const file = await logOf(10);
    const position = await endAfter(file, 9);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 10 });
    await writer.flush();
    expect(numbers(await batchesFrom(writer, position))).toEqual([10]);
    writer.append({ type: 'r', n: 11 });
    await writer.close();
    expect(
      numbers(await batchesFrom(new FileSystemAgentRecordPersistence(file), position)),
    ).toEqual([10, 11]);
  });

  it('yields records queued and not yet written last, with end null', async () => {
    const file = await logOf(2);
    const position = await endAfter(file, 1);
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
    persistence.append({ type: 'r', n: 2 });
    await expect(persistence.flush()).rejects.toThrow();
    persistence.append({ type: 'r', n: 3 });
    const batches = await batchesFrom(persistence, position);
    expect(batches).toEqual([
      {
        records: [
          { type: 'r', n: 2 },
          { type: 'r', n: 3 },
        ],
        end: null,
      },
    ]);
    faults.clear();
    await persistence.close();
    expect(
      numbers(await batchesFrom(new FileSystemAgentRecordPersistence(file), position)),
    ).toEqual([2, 3]);
  });

  it('refuses a position from before a rewrite', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    // Same records, same bytes: only the file's identity tells the rewrite apart.
    writer.rewrite(Array.from({ length: 5 }, (_, n) => ({ type: 'r', n, pad: '' })));
    await writer.flush();
    const error = await rejectionOf(writer.readFrom(position));
    expect(error).toBeInstanceOf(RecordsPositionError);
    expect((error as Error).message).toMatch(/another file.*rewritten.*readFrom\(null\)/s);
    await writer.close();
  });

  it('refuses a position in a queued rewrite’s old log', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    faults.fail('rename', ioError('EIO', 'rename'));
    persistence.rewrite([{ type: 'r', n: 0 }]);
    await expect(persistence.flush()).rejects.toThrow();
    const error = await rejectionOf(persistence.readFrom(position));
    expect((error as Error).message).toMatch(/rewrite .* is queued/);
    faults.clear();
    await persistence.close();
  });

  it('refuses a position beyond a truncated log', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    truncateSync(file, Number(position.offset) - 10);
    const error = await rejectionOf(new FileSystemAgentRecordPersistence(file).readFrom(position));
    expect(error).toBeInstanceOf(RecordsPositionError);
    expect((error as Error).message).toMatch(/truncated/);
  });

  it('refuses a position whose line changed in place (truncated and written again)', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    const bytes = readFileSync(file, 'utf8');
    // The last record rewritten in place: same length, same file, another line.
    truncateSync(file, bytes.lastIndexOf('{"type"'));
    appendFileSync(file, '{"type":"r","n":7,"pad":""}\n');
    expect(readFileSync(file).length).toBe(Number(position.offset));
    const error = await rejectionOf(new FileSystemAgentRecordPersistence(file).readFrom(position));
    expect((error as Error).message).toMatch(/line before it changed/);
  });

  it('refuses a position in a log replaced by a copy of itself', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    copyFileSync(file, `${file}.copy`);
    renameSync(`${file}.copy`, file); // same bytes, another file
    const error = await rejectionOf(new FileSystemAgentRecordPersistence(file).readFrom(position));
    expect((error as Error).message).toMatch(/another file/);
  });

  it('refuses a position in a log that no longer exists, and a position of another shape', async () => {
    const file = await logOf(5);
    const position = await endAfter(file, 4);
    const other = new FileSystemAgentRecordPersistence(path.join(temp.dir, 'none.jsonl'));
    expect((await rejectionOf(other.readFrom(position))) as Error).toBeInstanceOf(
      RecordsPositionError,
    );
    const reader = new FileSystemAgentRecordPersistence(file);
    const wrong = await rejectionOf(reader.readFrom({ seq: 4, generation: 1 }));
    expect(wrong).toBeInstanceOf(RecordsPositionError);
    expect((wrong as Error).message).toMatch(/not a position/);
  });

  it('reads from the start of any log at offset 0', async () => {
    const file = await logOf(3);
    const reader = new FileSystemAgentRecordPersistence<Rec>(file);
    const start = { offset: 0, fingerprint: '', log: '' };
    expect(numbers(await batchesFrom(reader, start))).toEqual([0, 1, 2]);
  });

  it('a position after a last line without a newline stays valid once the writer adds one', async () => {
    const file = path.join(temp.dir, 'other.jsonl');
    writeFileSync(file, '{"type":"r","n":0}\n{"type":"r","n":1}'); // another writer's style
    const position = await endAfter(file, 1);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 2 });
    await writer.close();
    expect(readFileSync(file, 'utf8')).toMatch(/"n":1}\n\{/);
    expect(numbers(await batchesFrom(writer, position))).toEqual([2]);
  });

  it('names the corrupt line by its number in the file and its byte offset', async () => {
    const file = await logOf(4);
    const position = await endAfter(file, 3);
    appendFileSync(file, '{"type":"r","n":4}\nnot json\n');
    const offset = readFileSync(file, 'utf8').indexOf('not json');
    const error = await rejectionOf(new FileSystemAgentRecordPersistence(file).readFrom(position));
    expect(error).toBeInstanceOf(RecordsCorruptError);
    expect(error).toMatchObject({ file, line: 6, offset });
  });

  it('restores blob references, in batches of a few images, each with a position to read on from', async () => {
    const file = path.join(temp.dir, 'blobs.jsonl');
    const blobs = { dir: path.join(temp.dir, 'blobs') };
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { blobs });
    const images = Array.from({ length: 8 }, (_, n) => imageDataUri(1024 * 1024, n));
    for (let n = 0; n < 8; n++) writer.append({ type: 'r', n, pad: images[n] });
    await writer.close();
    expect(readFileSync(file, 'utf8')).not.toContain('base64');
    const reader = new FileSystemAgentRecordPersistence<Rec>(file, { blobs });
    const batches = await batchesFrom(reader, null);
    expect(batches.length).toBeGreaterThan(1); // 8 images of 1.4 M characters: cut every ~4 M
    expect(batches.flatMap((b) => b.records.map((r) => r.pad))).toEqual(images);
    let before = 0;
    for (const batch of batches) {
      before += batch.records.length;
      const rest = await batchesFrom(reader, batch.end);
      expect(rest.flatMap((b) => b.records.map((r) => r.pad))).toEqual(images.slice(before));
    }
  });

  it('logPositionProblem checks a position against a log file without a persistence', async () => {
    const file = await logOf(3);
    const position = await endAfter(file, 2);
    expect(await logPositionProblem(file, position)).toBeNull();
    truncateSync(file, 5);
    expect(await logPositionProblem(file, position)).toMatch(/truncated/);
    expect(await logPositionProblem(path.join(temp.dir, 'gone.jsonl'), position)).toMatch(
      /does not exist/,
    );
  });

  it('a position at the start of an empty log names that file: a rewrite, queued or written, makes it unusable', async () => {
    const file = path.join(temp.dir, 'empty.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.writeSnapshot({ records: 0, data: 'empty' });
    await writer.flush();
    const position = (await writer.readSnapshot())?.position as RecordsPosition;
    expect(position).toMatchObject({ offset: 0 });
    writer.append({ type: 'r', n: 0 }); // appends keep it valid
    await writer.flush();
    expect(numbers(await batchesFrom(writer, position))).toEqual([0]);
    writer.rewrite([]);
    const queued = await rejectionOf(writer.readFrom(position));
    expect((queued as Error).message).toMatch(/rewrite .* is queued/);
    await writer.flush();
    expect(await rejectionOf(writer.readFrom(position))).toBeInstanceOf(RecordsPositionError);
    await writer.close();
  });
});

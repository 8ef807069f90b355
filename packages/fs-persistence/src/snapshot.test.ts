import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope, RecordsErrorInfo, StoredSnapshot } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ioError, openOnFaultyDisk } from '../test/faulty-fs.js';
import { pollUntil } from '../test/poll.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { snapshotPathOf } from './snapshot-file.js';

type Rec = AgentRecordEnvelope & { n: number };
const temp = useTempDir('fs-snapshot-');

function collector() {
  const reports: Array<{ message: string; kind: string }> = [];
  const onError = (error: Error, info: RecordsErrorInfo) =>
    reports.push({ message: error.message, kind: info.kind });
  return { reports, onError };
}

async function tailAfter(
  persistence: FileSystemAgentRecordPersistence<Rec>,
  snapshot: StoredSnapshot,
): Promise<number[]> {
  const out: number[] = [];
  for await (const batch of persistence.readFrom(snapshot.position)) {
    for (const record of batch.records) out.push(record.n);
  }
  return out;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('snapshots', () => {
  it('stores a snapshot at the end of the records before it; readFrom(position) gives the rest, after a reopen too', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    for (let n = 0; n < 5; n++) writer.append({ type: 'r', n });
    writer.writeSnapshot({ records: 5, data: '{"state":5}' });
    for (let n = 5; n < 8; n++) writer.append({ type: 'r', n });
    await writer.flush();
    const stored = await writer.readSnapshot();
    expect(stored).toMatchObject({ records: 5, data: '{"state":5}', bytes: 11 });
    expect(stored?.writtenAt).toBeGreaterThan(0);
    expect(await tailAfter(writer, stored as StoredSnapshot)).toEqual([5, 6, 7]);
    await writer.close();
    const reopened = new FileSystemAgentRecordPersistence<Rec>(file);
    const again = await reopened.readSnapshot();
    expect(again).toEqual(stored);
    expect(await tailAfter(reopened, again as StoredSnapshot)).toEqual([5, 6, 7]);
  });

  it('is written only once the records it covers are durable', async () => {
    const file = path.join(temp.dir, 'held.jsonl');
    const sync = deferred<void>();
    let held = 0;
    // The batch's write on the log is held: it is durable only once that write (O_DSYNC) or the
    // fdatasync after it returns, so no snapshot may exist before it does.
    // (Descriptors the log's writer opens: readers' ones are closed and their numbers reused.)
    const logDescriptors = new Set<number>();
    const fileOperations: FileOperations = {
      ...nodeFileOperations,
      async open(at, flags, mode) {
        const fd = await nodeFileOperations.open(at, flags, mode);
        if (path.basename(at) === 'held.jsonl' && flags !== 'r') logDescriptors.add(fd);
        return fd;
      },
      async write(fd, buffer, offset, length, position) {
        if (logDescriptors.has(fd) && ++held === 1) await sync.promise; // the log's first batch
        return nodeFileOperations.write(fd, buffer, offset, length, position);
      },
    };
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { fileOperations });
    writer.append({ type: 'r', n: 0 });
    writer.writeSnapshot({ records: 1, data: 'one' });
    const flushed = writer.flush();
    await pollUntil(
      () => (held === 1 ? true : undefined),
      () => 'the batch never reached its write',
    );
    expect(existsSync(snapshotPathOf(file))).toBe(false);
    sync.resolve();
    await flushed;
    const stored = await writer.readSnapshot();
    expect(stored?.position.offset).toBe(readFileSync(file).length);
    await writer.close();
  });

  it('never holds up the appends behind it while its data is being made', async () => {
    const file = path.join(temp.dir, 'slow-data.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 0 });
    const data = deferred<string>();
    writer.writeSnapshot({ records: 1, data: data.promise });
    for (let n = 1; n < 4; n++) writer.append({ type: 'r', n });
    // The appends reach the file (background writes drain) while the data is still pending.
    const text = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    await pollUntil(
      () => (text().split('\n').length === 5 ? true : undefined),
      () => `log: ${text()}`,
    );
    expect(existsSync(snapshotPathOf(file))).toBe(false);
    data.resolve('made later');
    await writer.flush(); // resolves only once that snapshot is written
    const stored = await writer.readSnapshot();
    expect(stored?.data).toBe('made later');
    expect(await tailAfter(writer, stored as StoredSnapshot)).toEqual([1, 2, 3]);
    await writer.close();
  });

  it('takes the position of an idle log when nothing is queued', async () => {
    const file = path.join(temp.dir, 'idle.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 0 });
    await writer.close();
    const next = new FileSystemAgentRecordPersistence<Rec>(file);
    next.writeSnapshot({ records: 1, data: 'idle' });
    next.append({ type: 'r', n: 1 });
    await next.flush();
    const stored = (await next.readSnapshot()) as StoredSnapshot;
    expect(await tailAfter(next, stored)).toEqual([1]);
    await next.close();
  });

  it('a rewrite removes the stored snapshot before the new log is renamed in, and drops one asked for before it', async () => {
    const file = path.join(temp.dir, 'rewritten.jsonl');
    const events: string[] = [];
    const fileOperations: FileOperations = {
      ...nodeFileOperations,
      async unlink(target) {
        if (target === snapshotPathOf(file)) events.push('unlink snapshot');
        return nodeFileOperations.unlink(target);
      },
      async rename(from, to) {
        if (to === file) events.push('rename log');
        return nodeFileOperations.rename(from, to);
      },
    };
    const { reports, onError } = collector();
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { fileOperations, onError });
    writer.append({ type: 'r', n: 0 });
    writer.writeSnapshot({ records: 1, data: 'before' });
    await writer.flush();
    expect(await writer.readSnapshot()).not.toBeNull();
    const late = deferred<string>();
    writer.writeSnapshot({ records: 1, data: late.promise });
    writer.rewrite([{ type: 'r', n: 0 }]);
    late.resolve('too late');
    await writer.flush();
    expect(events).toEqual(['unlink snapshot', 'rename log']);
    expect(await writer.readSnapshot()).toBeNull();
    expect(reports).toEqual([
      expect.objectContaining({ kind: 'warning', message: expect.stringMatching(/rewritten/) }),
    ]);
    await writer.close();
  });

  it('a torn or damaged snapshot file reads as null, with a warning', async () => {
    const file = path.join(temp.dir, 'torn.jsonl');
    const { reports, onError } = collector();
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    writer.append({ type: 'r', n: 0 });
    writer.writeSnapshot({ records: 1, data: JSON.stringify({ big: 'x'.repeat(1000) }) });
    await writer.close();
    truncateSync(snapshotPathOf(file), 500);
    expect(await writer.readSnapshot()).toBeNull();
    expect(reports.at(-1)).toMatchObject({
      kind: 'warning',
      message: expect.stringMatching(/checksum/),
    });
    writeFileSync(snapshotPathOf(file), 'not a snapshot');
    expect(await writer.readSnapshot()).toBeNull();
    expect(reports.at(-1)?.message).toMatch(/does not start like a snapshot/);
  });

  it('drops a snapshot whose data rejects or whose write fails, as warnings; flush resolves', async () => {
    const file = path.join(temp.dir, 'dropped.jsonl');
    const { reports, onError } = collector();
    const { faults, persistence } = openOnFaultyDisk<Rec>(file, { onError });
    persistence.append({ type: 'r', n: 0 });
    persistence.writeSnapshot({ records: 1, data: Promise.reject(new Error('state broke')) });
    await persistence.flush();
    faults.fail('fsync', ioError('ENOSPC', 'fsync'), {
      onlyPath: (p) => p.endsWith('.snapshot.tmp'),
    });
    persistence.writeSnapshot({ records: 1, data: 'x' });
    await persistence.flush();
    expect(await persistence.readSnapshot()).toBeNull();
    expect(reports.map((r) => r.kind)).toEqual(['warning', 'warning']);
    expect(reports[0]?.message).toMatch(/state broke/);
    expect(reports[1]?.message).toMatch(/ENOSPC/);
    expect(readdirSync(temp.dir).filter((name) => name.endsWith('.snapshot.tmp'))).toEqual([]);
    await persistence.close();
  });

  it('keeps only the newest snapshot, in one file', async () => {
    const file = path.join(temp.dir, 'newest.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    for (let n = 0; n < 3; n++) {
      writer.append({ type: 'r', n });
      writer.writeSnapshot({ records: n + 1, data: `state ${n}` });
    }
    await writer.close();
    expect((await writer.readSnapshot())?.data).toBe('state 2');
    expect(readdirSync(temp.dir).filter((name) => name.includes('snapshot'))).toEqual([
      'newest.jsonl.snapshot',
    ]);
  });

  it('the next writer removes the temp files a crash left', async () => {
    const file = path.join(temp.dir, 'crashed.jsonl');
    const uuid = '0b7c2f6e-4a4e-4f7e-9f6e-1d2a3b4c5d6e';
    for (const kind of ['snapshot', 'summary', 'rewrite']) {
      writeFileSync(path.join(temp.dir, `.crashed.jsonl.${uuid}.${kind}.tmp`), 'left over');
    }
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 0 });
    await writer.close();
    expect(readdirSync(temp.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('a snapshot asked for after a rewrite that is refused is dropped, and flush() still settles', async () => {
    const file = path.join(temp.dir, 'refused.jsonl');
    const { reports, onError } = collector();
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    writer.append({ type: 'r', n: 0 });
    await writer.flush();
    writer.rewrite([{ type: 'r', n: 1, big: 1n } as unknown as Rec]); // refused when written
    writer.writeSnapshot({ records: 1, data: 'after the refused rewrite' });
    await expect(writer.flush()).rejects.toThrow(/refused/);
    await writer.flush(); // hung when the snapshot's place in the queue was lost with the rewrite
    expect(await writer.readSnapshot()).toBeNull();
    expect(reports.map((r) => r.kind)).toEqual(['record-refused', 'warning']);
    await writer.close();
  }, 10_000);

  it('a log that cannot be opened for a snapshot alone drops the snapshot as a warning, not an episode', async () => {
    const file = path.join(temp.dir, 'unopened.jsonl');
    const { reports, onError } = collector();
    const { faults, persistence } = openOnFaultyDisk<Rec>(file, { onError });
    faults.fail('write', ioError('ENOSPC', 'write')); // the lock file cannot be written
    persistence.writeSnapshot({ records: 0, data: 'nothing yet' });
    await pollUntil(
      () => (reports.length > 0 ? true : undefined),
      () => 'nothing reported',
    );
    faults.clear();
    await persistence.flush(); // hung: a failure latched with no operation to retry
    expect(reports).toEqual([
      expect.objectContaining({ kind: 'warning', message: expect.stringMatching(/ENOSPC/) }),
    ]);
    expect(await persistence.readSnapshot()).toBeNull();
    await persistence.close();
  }, 10_000);
});

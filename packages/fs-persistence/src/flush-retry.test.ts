import path from 'node:path';
import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ioError } from '../test/faulty-fs.js';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });
const temp = useTempDir('agent-records-flush-retry-');

/**
 * The fault seam with a disk that is full while `full` is set: a write begun then is held (so a
 * test can act while it is in flight) and fails with ENOSPC once released; every other call is
 * real node:fs.
 */
function fullDiskWithHeldWrite() {
  const disk = { full: true };
  let began: () => void = () => {};
  const writeBegan = new Promise<void>((resolve) => {
    began = resolve;
  });
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ops: FileOperations = {
    ...nodeFileOperations,
    write: async (...args: Parameters<FileOperations['write']>) => {
      if (!disk.full) return nodeFileOperations.write(...args);
      began();
      await released;
      throw ioError('ENOSPC', 'write');
    },
  };
  return { ops, disk, writeBegan, release };
}

describe('flush() is the retry', () => {
  it('a flush() called after the fault cleared, while a write begun under it is failing, retries and resolves', async () => {
    const seam = fullDiskWithHeldWrite();
    const reports: string[] = [];
    const persistence = new FileSystemAgentRecordPersistence<Rec>(
      path.join(temp.dir, 'log.jsonl'),
      {
        lock: false,
        fileOperations: seam.ops,
        onError: (_error, info: RecordsErrorInfo) => reports.push(info.kind),
      },
    );
    persistence.append(rec(1));
    await seam.writeBegan; // the background write has begun on the full disk
    seam.disk.full = false; // space is freed
    const flushing = persistence.flush(); // called after that
    seam.release(); // the write begun on the full disk fails now
    await expect(flushing).resolves.toBeUndefined();
    expect(await readAll(persistence)).toEqual([rec(1)]);
    expect(reports).toEqual(['write-failed', 'write-recovered']);
    await persistence.close();
    const reopened = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'log.jsonl'));
    expect(await readAll(reopened)).toEqual([rec(1)]);
    await reopened.close();
  });
});

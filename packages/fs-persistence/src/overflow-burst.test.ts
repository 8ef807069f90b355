import path from 'node:path';
import { type AgentRecordEnvelope, RecordsOverflowError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n?: number; text?: string };

const temp = useTempDir('fs-overflow-');

/** File operations whose fdatasync waits for `release()`: a store that is not keeping up. */
function stalledDisk() {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ops: FileOperations = {
    ...nodeFileOperations,
    fdatasync: async (fd) => {
      await gate;
      return nodeFileOperations.fdatasync(fd);
    },
  };
  return { ops, release };
}

describe('maxPendingBytes (file)', () => {
  it('one dropped burst rejects the next flush once, saying how many; later flushes resolve', async () => {
    const disk = stalledDisk();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'o.jsonl'), {
      fileOperations: disk.ops,
      maxPendingBytes: 1000,
      onError: () => {},
    });
    persistence.append({ type: 'x', n: 0, text: 'a'.repeat(600) });
    let thrown = 0;
    for (let n = 1; n <= 81; n++) {
      try {
        persistence.append({ type: 'x', n, text: 'b'.repeat(600) });
      } catch (error) {
        expect(error).toBeInstanceOf(RecordsOverflowError);
        thrown++;
      }
    }
    expect(thrown).toBe(81);
    disk.release();
    const first = persistence.flush();
    await expect(first).rejects.toBeInstanceOf(RecordsOverflowError);
    await expect(first).rejects.toMatchObject({ dropped: 81 });
    await expect(first).rejects.toThrow(/81 records were dropped/);
    for (let i = 0; i < 81; i++) await expect(persistence.flush()).resolves.toBeUndefined();
    await persistence.close();
    expect((await readAll(persistence)).map((r) => r.n)).toEqual([0]);
  });

  it('counts queued data in UTF-8 bytes, not UTF-16 code units', () => {
    const disk = stalledDisk();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'u.jsonl'), {
      fileOperations: disk.ops,
      maxPendingBytes: 1000,
      onError: () => {},
    });
    // 400 characters of 'é' are 800 bytes: two such records are over 1000 bytes.
    persistence.append({ type: 'x', text: 'é'.repeat(400) });
    expect(() => persistence.append({ type: 'x', text: 'é'.repeat(400) })).toThrow(
      RecordsOverflowError,
    );
    disk.release();
  });

  it('a rewrite does not count against the bound', async () => {
    const disk = stalledDisk();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'r.jsonl'), {
      fileOperations: disk.ops,
      maxPendingBytes: 1000,
      onError: () => {},
    });
    persistence.rewrite([{ type: 'metadata', text: 'm'.repeat(5000) }]);
    expect(() => persistence.append({ type: 'x', text: 'a'.repeat(600) })).not.toThrow();
    disk.release();
    await persistence.close();
    expect(await readAll(persistence)).toHaveLength(2);
  });
});

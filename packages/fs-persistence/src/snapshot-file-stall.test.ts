import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { StoredSnapshot } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  prepareSnapshotFile,
  writeSnapshotContent,
} from './snapshot-file.js';

const temp = useTempDir('fs-snapshot-stall-');

function snapshotOf(data: string): StoredSnapshot {
  return {
    position: { kind: 'test', at: 1 } as unknown as StoredSnapshot['position'],
    records: 3,
    writtenAt: 1_700_000_000_000,
    bytes: Buffer.byteLength(data, 'utf8'),
    data,
  };
}

// Multi-byte characters and surrogate pairs at every offset, so small slices cut next to them.
const MIXED = `{"a":"é😀x€𝄞","b":"${'😀é'.repeat(40)}","lone":"\ud800z"}`;

describe('snapshot file written in slices', () => {
  it('writes the very bytes of the one-piece encoding, whatever the slice size', async () => {
    const snapshot = snapshotOf(MIXED);
    for (const sliceUnits of [1, 2, 3, 7, 64, 1 << 20]) {
      const file = path.join(temp.dir, `s-${sliceUnits}`);
      const fd = openSync(file, 'wx');
      await writeSnapshotContent(nodeFileOperations, fd, snapshot, sliceUnits);
      await nodeFileOperations.close(fd);
      const bytes = readFileSync(file);
      expect(bytes.equals(encodeSnapshot(snapshot)), `slices of ${sliceUnits}`).toBe(true);
      // A lone surrogate reads back as U+FFFD, as from the one-piece encoding.
      const readBack = Buffer.from(MIXED, 'utf8').toString('utf8');
      expect(decodeSnapshot(bytes)).toEqual({ ...snapshot, data: readBack });
    }
  });

  it('lets the event loop run between slices, even when writes complete at once', async () => {
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const turnAtWrite: number[] = [];
    const chunks = new Map<number, Buffer>();
    const ops = {
      write: async (_fd: number, buffer: Buffer, offset: number, length: number, at: number) => {
        turnAtWrite.push(turns);
        chunks.set(at, Buffer.from(buffer.subarray(offset, offset + length)));
        return length;
      },
    } as unknown as FileOperations;
    const data = 'x'.repeat(1000);
    await writeSnapshotContent(ops, 7, snapshotOf(data), 100);
    ticking = false;
    // The header, ten slices of data, the first line: the ten slices each in their own turn.
    expect(turnAtWrite).toHaveLength(12);
    const dataTurns = turnAtWrite.slice(1, 11);
    expect(new Set(dataTurns).size).toBe(10);
    const written = Buffer.concat(
      [...chunks.entries()].sort(([a], [b]) => a - b).map(([, b]) => b),
    );
    expect(written.equals(encodeSnapshot(snapshotOf(data)))).toBe(true);
  });

  it('refuses data whose size is not the one given (the header would lie)', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    const wrong = { ...snapshotOf('{"a":"é"}'), bytes: 9 };
    await expect(prepareSnapshotFile(nodeFileOperations, file, wrong, 0o600)).rejects.toThrow(
      /10 bytes of UTF-8, not the 9/,
    );
  });
});

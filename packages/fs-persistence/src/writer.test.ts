// The durable append's O_DSYNC write (LogWriter.#writeDurably): what its handlers do when the
// write returns short, fails with EAGAIN, or the seam throws at once. Every record lands once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n?: number; text?: string };

const tmp = useTempDir('fs-writer-');

/** The real file system, whose next `write` of a line (not the lock's) misbehaves once. */
function oneOddWrite(odd: 'short' | 'eagain' | 'throws'): FileOperations & { hits: number } {
  let armed = false;
  const ops = {
    ...nodeFileOperations,
    hits: 0,
    arm: () => {
      armed = true;
    },
    write(fd: number, buffer: Buffer, offset: number, length: number, position: number) {
      if (!armed || length < 2)
        return nodeFileOperations.write(fd, buffer, offset, length, position);
      armed = false;
      ops.hits++;
      if (odd === 'short') {
        return nodeFileOperations.write(fd, buffer, offset, length >> 1, position);
      }
      const error = Object.assign(new Error(`${odd} once`), { code: 'EAGAIN' });
      if (odd === 'throws') throw Object.assign(new Error('seam threw'), { code: 'EIO' });
      return Promise.reject(error);
    },
  };
  return ops;
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('the durable write of one batch', () => {
  for (const odd of ['short', 'eagain'] as const) {
    it(`goes on after a ${odd === 'short' ? 'short write' : 'write that says EAGAIN'}: the record once, durable, then the next`, async () => {
      const file = path.join(tmp.dir, 'log.jsonl');
      const ops = oneOddWrite(odd);
      const reports: string[] = [];
      const log = new FileSystemAgentRecordPersistence<Rec>(file, {
        fileOperations: ops,
        onError: (error) => reports.push(error.message),
      });
      log.append({ type: 'a', n: 1 });
      await log.flush();
      (ops as unknown as { arm(): void }).arm();
      log.append({ type: 'b', n: 2, text: 'x'.repeat(100) });
      await log.flush();
      log.append({ type: 'c', n: 3 });
      await log.flush();
      await log.close();
      expect(ops.hits).toBe(1);
      expect(reports).toEqual([]);
      expect(lines(file).map((r) => r.type)).toEqual(['a', 'b', 'c']);
    });
  }

  it('a seam whose write throws at once: a failed flush, then the retry writes the record once', async () => {
    const file = path.join(tmp.dir, 'log.jsonl');
    const ops = oneOddWrite('throws');
    const log = new FileSystemAgentRecordPersistence<Rec>(file, {
      fileOperations: ops,
      onError: () => {},
    });
    log.append({ type: 'a' });
    await log.flush();
    (ops as unknown as { arm(): void }).arm();
    log.append({ type: 'b' });
    await expect(log.flush()).rejects.toMatchObject({ code: 'RECORDS_WRITE_FAILED' });
    await log.flush();
    await log.close();
    expect(ops.hits).toBe(1);
    expect(lines(file).map((r) => r.type)).toEqual(['a', 'b']);
  });
});

import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ioError, openOnFaultyDisk } from '../test/faulty-fs.js';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n?: number; text?: string; big?: bigint };

const temp = useTempDir('fs-close-');

/** Descriptors this process holds open on `file` (Linux: /proc/self/fd). */
function descriptorsOn(file: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

const released = (file: string) => !existsSync(`${file}.lock`) && descriptorsOn(file) === 0;

describe.runIf(existsSync('/proc/self/fd'))(
  'close() always releases the lock and descriptor',
  () => {
    it('when its flush rejects with the overflow report', async () => {
      const file = path.join(temp.dir, 'overflow.jsonl');
      const { faults, persistence } = openOnFaultyDisk<Rec>(file, { maxPendingBytes: 1000 });
      persistence.append({ type: 'x', n: 0 });
      await persistence.flush(); // the writer holds the lock and the descriptor now
      faults.fail('write', ioError('ENOSPC', 'write'));
      persistence.append({ type: 'x', text: 'a'.repeat(600) });
      expect(() => persistence.append({ type: 'x', text: 'b'.repeat(600) })).toThrow(
        RecordsOverflowError,
      );
      faults.clear();
      await expect(persistence.close()).rejects.toBeInstanceOf(RecordsOverflowError);
      expect(released(file)).toBe(true);
      await expect(persistence.close()).resolves.toBeUndefined();
      expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(2);
    });

    it('when it is called during a failure episode, and a later close() writes the records', async () => {
      const file = path.join(temp.dir, 'episode.jsonl');
      const { faults, persistence } = openOnFaultyDisk<Rec>(file);
      persistence.append({ type: 'x', n: 1 });
      await persistence.flush();
      faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
      persistence.append({ type: 'x', n: 2 });
      await expect(persistence.close()).rejects.toBeInstanceOf(RecordsWriteError);
      expect(released(file)).toBe(true);
      faults.clear();
      await persistence.close();
      expect(released(file)).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe('{"type":"x","n":1}\n{"type":"x","n":2}\n');
    });

    it('two close() calls at once during an episode cut and close the log once', async () => {
      const file = path.join(temp.dir, 'twice.jsonl');
      const { faults, persistence } = openOnFaultyDisk<Rec>(file);
      persistence.append({ type: 'x', n: 1 });
      await persistence.flush();
      faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
      persistence.append({ type: 'x', n: 2 });
      const truncatesBefore = faults.calls.ftruncate ?? 0;
      const closes = await Promise.allSettled([persistence.close(), persistence.close()]);
      expect(closes.map((c) => c.status)).toEqual(['rejected', 'rejected']);
      // One cut of the failed batch, by one of them: the other did not touch the descriptor.
      expect((faults.calls.ftruncate ?? 0) - truncatesBefore).toBe(1);
      expect(released(file)).toBe(true);
      faults.clear();
      await persistence.close();
      expect(readFileSync(file, 'utf8')).toBe('{"type":"x","n":1}\n{"type":"x","n":2}\n');
    });

    it('when its flush rejects with a refused rewrite', async () => {
      const file = path.join(temp.dir, 'refused.jsonl');
      const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError: () => {} });
      persistence.append({ type: 'x', n: 1 });
      persistence.rewrite([{ type: 'bad', big: 1n }]);
      await expect(persistence.close()).rejects.toBeInstanceOf(RecordsWriteError);
      expect(released(file)).toBe(true);
      await expect(persistence.close()).resolves.toBeUndefined();
      expect(readFileSync(file, 'utf8')).toBe('{"type":"x","n":1}\n');
    });
  },
);

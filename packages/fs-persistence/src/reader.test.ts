import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { type AgentRecordEnvelope, RecordsCorruptError } from '@agent-records/types';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { MAX_LINE_BYTES } from './line-reader.js';

const temp = useTempDir('fs-reader-');
afterEach(() => {
  vi.restoreAllMocks();
});

describe('read() snapshot', () => {
  it('does not yield the first batch twice when its open is slow and the writer opens the file meanwhile', async () => {
    const file = path.join(temp.dir, 'slow-open.jsonl');
    let releaseOpen = () => {};
    const gate = new Promise<void>((resolve) => {
      releaseOpen = resolve;
    });
    let readerOpening = () => {};
    const readerOpened = new Promise<void>((resolve) => {
      readerOpening = resolve;
    });
    let gated = false;
    // The seam holds the reader's first open of the log until the writer has written.
    const fileOperations: FileOperations = {
      ...nodeFileOperations,
      async open(target, flags, mode) {
        if (target === file && flags === 'r' && !gated) {
          gated = true;
          readerOpening();
          await gate;
        }
        return nodeFileOperations.open(target, flags, mode);
      },
    };
    const persistence = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
      fileOperations,
    });
    persistence.append({ type: 'metadata' });
    const reading = readAll(persistence);
    await readerOpened;
    await persistence.flush();
    releaseOpen();
    expect((await reading).map((r) => r.type)).toEqual(['metadata']);
    persistence.append({ type: 'b' });
    expect((await readAll(persistence)).map((r) => r.type)).toEqual(['metadata', 'b']);
    await persistence.close();
  });
});

describe('one long line', () => {
  it('is read in linear time: its bytes are copied a bounded number of times, not once per chunk', async () => {
    const file = path.join(temp.dir, 'long.jsonl');
    const text = 'x'.repeat(16 * 1024 * 1024);
    const line = `{"type":"big","text":"${text}"}\n`;
    writeFileSync(file, line);
    let copied = 0;
    const concat = Buffer.concat;
    vi.spyOn(Buffer, 'concat').mockImplementation((list, length) => {
      const joined = concat(list, length);
      copied += joined.length;
      return joined;
    });
    const from = Buffer.from as (...args: unknown[]) => Buffer;
    vi.spyOn(Buffer, 'from').mockImplementation(((...args: unknown[]) => {
      const made = from(...args);
      if (args[0] instanceof Uint8Array) copied += made.length;
      return made;
    }) as typeof Buffer.from);
    const records = await readAll(new FileSystemAgentRecordPersistence(file));
    vi.restoreAllMocks();
    expect(records).toHaveLength(1);
    expect((records[0] as { text?: string }).text?.length).toBe(text.length);
    // Joining the line once copies it once; a join per 256 KiB chunk copied it ~32 times.
    expect(copied).toBeLessThanOrEqual(2 * line.length);
  }, 60_000);
});

describe('a last line longer than a reader holds', () => {
  it('is RecordsCorruptError naming its line, not skipped as a torn write', async () => {
    const file = path.join(temp.dir, 'huge-tail.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, '{"type":"a"}\n{"type":"b","text":"');
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i <= MAX_LINE_BYTES / piece.length; i++) writeSync(fd, piece);
    closeSync(fd);
    const failure = await readAll(new FileSystemAgentRecordPersistence(file)).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject({ file, line: 2, offset: 13 });
    expect((failure as Error).message).toContain('agent-records repair');
  }, 300_000);
});

describe('what a record is (recordProblem)', () => {
  const cases: Array<[string, string]> = [
    ['a time that is not a number', '{"type":"b","time":"yesterday"}'],
    ['an empty type', '{"type":""}'],
  ];
  it.each(cases)(
    'a line with %s is RecordsCorruptError with file, line, offset and the repair hint',
    async (_what, bad) => {
      const file = path.join(temp.dir, 'bad.jsonl');
      writeFileSync(file, `{"type":"a"}\n${bad}\n{"type":"c"}\n`);
      const failure = await readAll(new FileSystemAgentRecordPersistence(file)).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RecordsCorruptError);
      expect(failure).toMatchObject({ file, line: 2, offset: 13 });
      expect((failure as Error).message).toContain(`${file}:2:13`);
      expect((failure as Error).message).toContain('agent-records repair');
    },
  );

  it('a last line without newline that is JSON but not a record is corrupt, not skipped as torn', async () => {
    const file = path.join(temp.dir, 'bad-last.jsonl');
    writeFileSync(file, '{"type":"a"}\n{"type":"b","time":"yesterday"}');
    await expect(readAll(new FileSystemAgentRecordPersistence(file))).rejects.toMatchObject({
      line: 2,
      offset: 13,
    });
    // The writer does not cut it as a torn write either: it ends the line and appends after it.
    const writer = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
    writer.append({ type: 'c' });
    await writer.close();
    await expect(readAll(new FileSystemAgentRecordPersistence(file))).rejects.toMatchObject({
      line: 2,
    });
  });

  it('a torn last line (not valid JSON) is still skipped', async () => {
    const file = path.join(temp.dir, 'torn.jsonl');
    writeFileSync(file, '{"type":"a"}\n{"type":"b","ti');
    expect((await readAll(new FileSystemAgentRecordPersistence(file))).map((r) => r.type)).toEqual([
      'a',
    ]);
  });
});

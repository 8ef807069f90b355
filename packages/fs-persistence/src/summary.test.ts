import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ioError, openOnFaultyDisk } from '../test/faulty-fs.js';
import { pollUntil } from '../test/poll.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { type LogSummary, readLogSummary, summaryPathOf } from './summary.js';

type Rec = AgentRecordEnvelope & { n?: number };
const temp = useTempDir('fs-summary-');

/** Waits until the summary beside `file` describes it as it is now, with `records` records. */
async function summaryOf(file: string, records: number): Promise<LogSummary> {
  let last: LogSummary | null = null;
  return pollUntil(
    async () => {
      last = await readLogSummary(file);
      const fits = last?.bytes === statSync(file).size && last.records === records;
      return fits ? (last ?? undefined) : undefined;
    },
    () => `summary ${JSON.stringify(last)}, log ${statSync(file).size} bytes, want ${records}`,
  );
}

describe('the summary file', () => {
  it('is kept current by the writer: counts after appends and after a rewrite', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'metadata', created_at: 1234 } as Rec);
    for (let n = 0; n < 9; n++) writer.append({ type: 'r', n });
    await writer.flush();
    const first = await summaryOf(file, 10);
    expect(first.createdAt).toBe(1234);
    expect(first.ino).toBe(statSync(file).ino);
    writer.append({ type: 'r', n: 9 });
    await writer.flush();
    await summaryOf(file, 11);
    writer.rewrite([{ type: 'metadata', created_at: 5678 } as Rec, { type: 'r', n: 0 }]);
    await writer.flush();
    const rewritten = await summaryOf(file, 2);
    expect(rewritten.ino).toBe(statSync(file).ino); // the new file
    expect(rewritten.createdAt).toBe(5678); // its first record says
    await writer.close();
  });

  it('flush() does not wait for it: a summary write held up does not hold up durable appends', async () => {
    const file = path.join(temp.dir, 'held.jsonl');
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = 0;
    const fileOperations: FileOperations = {
      ...nodeFileOperations,
      async rename(from, to) {
        if (to === summaryPathOf(file)) {
          holding++;
          await held;
        }
        return nodeFileOperations.rename(from, to);
      },
    };
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { fileOperations });
    writer.append({ type: 'r', n: 0 });
    await writer.flush();
    await pollUntil(
      () => (holding > 0 ? true : undefined),
      () => 'no summary write began',
    );
    for (let n = 1; n <= 3; n++) {
      writer.append({ type: 'r', n });
      await writer.flush(); // resolves while the summary write is held
    }
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
    expect(holding).toBe(1); // the later batches coalesce behind the one held
    release();
    await writer.close();
    expect((await readLogSummary(file))?.records).toBe(4);
  });

  it('setTitle is durable once flush() resolves, and carries over to the next writer', async () => {
    const file = path.join(temp.dir, 'titled.jsonl');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.setTitle('Refactor the parser');
    await writer.flush();
    expect((await readLogSummary(file))?.title).toBe('Refactor the parser');
    writer.append({ type: 'r', n: 0 });
    writer.setTitle('Refactor the parser, then the lexer');
    await writer.close();
    const next = new FileSystemAgentRecordPersistence<Rec>(file);
    next.append({ type: 'r', n: 1 });
    await next.close();
    expect(await readLogSummary(file)).toMatchObject({
      title: 'Refactor the parser, then the lexer',
      records: 2,
    });
  });

  it('a failed title write is a failure episode: flush rejects, the retry stores it, no line twice', async () => {
    const file = path.join(temp.dir, 'title-fault.jsonl');
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    persistence.append({ type: 'r', n: 0 });
    await persistence.flush();
    faults.fail('fsync', ioError('EIO', 'fsync'), { onlyPath: (p) => p.endsWith('.summary.tmp') });
    persistence.append({ type: 'r', n: 1 });
    persistence.setTitle('kept');
    await expect(persistence.flush()).rejects.toThrow(/EIO/);
    faults.clear();
    await persistence.flush();
    await persistence.close();
    expect((await readLogSummary(file))?.title).toBe('kept');
    expect(readFileSync(file, 'utf8')).toBe('{"type":"r","n":0}\n{"type":"r","n":1}\n');
  });

  it('counts a log written before summaries once, and only what a stale summary misses', async () => {
    const file = path.join(temp.dir, 'legacy.jsonl');
    writeFileSync(file, '{"type":"metadata","created_at":99}\n{"type":"r"}\n{"type":"r"}');
    const writer = new FileSystemAgentRecordPersistence<Rec>(file);
    writer.append({ type: 'r', n: 3 });
    await writer.close();
    expect(await readLogSummary(file)).toMatchObject({ records: 4, createdAt: 99 });
    // Another tool appends without updating the summary: the next writer adds what it missed.
    appendFileSync(file, '{"type":"r"}\n{"type":"r"}\n');
    const next = new FileSystemAgentRecordPersistence<Rec>(file);
    next.append({ type: 'r', n: 6 });
    await next.close();
    expect(await readLogSummary(file)).toMatchObject({
      records: 7,
      bytes: statSync(file).size,
      createdAt: 99,
    });
  });

  it('summary: false keeps no summary file; setTitle says so as a warning', async () => {
    const file = path.join(temp.dir, 'none.jsonl');
    const reports: string[] = [];
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, {
      summary: false,
      onError: (error, info) => reports.push(`${info.kind}: ${error.message}`),
    });
    writer.append({ type: 'r' });
    writer.setTitle('x');
    await writer.close();
    expect(reports).toEqual([expect.stringMatching(/^warning: .*summary: false/)]);
    expect(await readLogSummary(file)).toBeNull();
  });
});

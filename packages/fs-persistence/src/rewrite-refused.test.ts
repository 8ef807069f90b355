import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n?: number; big?: bigint };

const temp = useTempDir('fs-rewrite-refused-');

const rec = (n: number): Rec => ({ type: 'test', n });
/** A record JSON cannot hold: the writer refuses any rewrite containing it. */
const unserialisable = (): Rec => ({ type: 'bad', big: 1n });

const linesOf = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Rec);

function open(file: string) {
  const kinds: RecordsErrorInfo['kind'][] = [];
  const persistence = new FileSystemAgentRecordPersistence<Rec>(file, {
    onError: (_error, info) => kinds.push(info.kind),
  });
  return { persistence, kinds };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the writer');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a rewrite the writer refuses (a record it cannot serialise)', () => {
  it('keeps the appends queued before it: they are written as if the rewrite never happened', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    const { persistence, kinds } = open(file);
    persistence.append(rec(1));
    await persistence.flush();
    persistence.append(rec(2));
    persistence.append(rec(3));
    persistence.rewrite([rec(100), unserialisable()]);
    persistence.append(rec(4));
    const failure = await persistence.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as Error).cause).toBeInstanceOf(RecordsSerializeError);
    expect(linesOf(file)).toEqual([rec(1), rec(2), rec(3), rec(4)]);
    expect(kinds).toEqual(['record-refused']);
    await expect(persistence.flush()).resolves.toBeUndefined();
    await persistence.close();
    expect(linesOf(file)).toEqual([rec(1), rec(2), rec(3), rec(4)]);
  });

  it('a flush called after the writer refused it still rejects, once', async () => {
    const file = path.join(temp.dir, 'later.jsonl');
    const { persistence, kinds } = open(file);
    persistence.append(rec(1));
    persistence.rewrite([unserialisable()]);
    // No flush was waiting when the writer refused the rewrite in the background.
    await until(() => kinds.includes('record-refused'));
    const failure = await persistence.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as Error).cause).toBeInstanceOf(RecordsSerializeError);
    expect((failure as Error).message).toContain(file);
    await expect(persistence.flush()).resolves.toBeUndefined();
    await persistence.close();
    expect(linesOf(file)).toEqual([rec(1)]);
    expect(kinds).toEqual(['record-refused']);
  });

  it('a refused rewrite behind a good one: the good rewrite and every append after it land', async () => {
    const file = path.join(temp.dir, 'two.jsonl');
    const { persistence, kinds } = open(file);
    persistence.append(rec(1));
    persistence.rewrite([rec(10)]);
    persistence.append(rec(11));
    persistence.rewrite([unserialisable()]);
    persistence.append(rec(12));
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    await persistence.close();
    expect(linesOf(file)).toEqual([rec(10), rec(11), rec(12)]);
    expect(kinds).toEqual(['record-refused']);
  });

  it('a good rewrite behind a refused one replaces everything, and the refusal is still reported', async () => {
    const file = path.join(temp.dir, 'after.jsonl');
    const { persistence, kinds } = open(file);
    persistence.append(rec(1));
    persistence.rewrite([unserialisable()]);
    persistence.append(rec(2));
    persistence.rewrite([rec(20)]);
    persistence.append(rec(21));
    // As on the memory backend: superseded or not, the host hears of the rewrite it got wrong.
    const failure = await persistence.flush().catch((error: unknown) => error);
    expect((failure as Error).cause).toBeInstanceOf(RecordsSerializeError);
    await persistence.close();
    expect(linesOf(file)).toEqual([rec(20), rec(21)]);
    expect(kinds).toEqual(['record-refused']);
  });
});

describe('read() while a rewrite the writer will refuse is still queued', () => {
  it('reads the log as if the rewrite had not been called, instead of failing', async () => {
    const file = path.join(temp.dir, 'read.jsonl');
    const { persistence } = open(file);
    persistence.append(rec(1));
    await persistence.flush();
    persistence.rewrite([rec(100), unserialisable()]);
    persistence.append(rec(2));
    // The read starts before the writer has tried the rewrite.
    const read: Rec[] = [];
    for await (const record of persistence.read()) read.push(record);
    expect(read).toEqual([rec(1), rec(2)]);
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    await persistence.close();
  });
});

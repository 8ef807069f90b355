import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AgentRecords } from '@agent-records/core';
import { describePersistenceContract } from '@agent-records/persistence-tests';
import {
  type AgentRecordEnvelope,
  RecordsCorruptError,
  type RecordsErrorInfo,
  RecordsLockedError,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it, vi } from 'vitest';
import { FaultyFileSystem, ioError, openOnFaultyDisk } from '../test/faulty-fs.js';
import { readAll } from '../test/read-all.js';
import { fileLogSubject } from '../test/subject.js';
import { useTempDir } from '../test/temp-dir.js';
import { nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n?: number; text?: string };

const temp = useTempDir('fs-persistence-');

const rec = (n: number): Rec => ({ type: 'test', n });
const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => rec(from + i));

function reports() {
  const seen: Array<{ error: Error; info: RecordsErrorInfo }> = [];
  return { seen, onError: (error: Error, info: RecordsErrorInfo) => seen.push({ error, info }) };
}

describePersistenceContract(
  'FileSystemAgentRecordPersistence',
  () => fileLogSubject('fs-contract-', (faults, error) => faults.fail('write', error)),
  { expectCapabilities: ['readFrom', 'snapshots', 'title'] },
);

describe('file format', () => {
  it('writes one JSON object per line, newline-terminated, with U+2028/U+2029 escaped', async () => {
    const file = path.join(temp.dir, 'a.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    persistence.append({ type: 'x', text: 'line\u2028sep\u2029para\nnewline' });
    persistence.append(rec(2));
    await persistence.close();
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] as string)).toEqual({
      type: 'x',
      text: 'line\u2028sep\u2029para\nnewline',
    });
    expect(JSON.parse(lines[1] as string)).toEqual(rec(2));
  });

  it('creates files 0600 and directories 0700, and releases the lock on close', async () => {
    const file = path.join(temp.dir, 'nested', 'deeper', 'a.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    persistence.append(rec(1));
    await persistence.flush();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.lock`).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    await persistence.close();
    expect(readdirSync(path.dirname(file))).toEqual(['a.jsonl', 'a.jsonl.summary.json']);
    expect(statSync(`${file}.summary.json`).mode & 0o777).toBe(0o600);
  });

  it('reads a log written by another runtime, blank lines and CRLF included', async () => {
    const file = path.join(temp.dir, 'other.jsonl');
    writeFileSync(
      file,
      '{"type":"metadata","protocol_version":"1.0","created_at":1}\r\n\n{"type":"a"}\n',
    );
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    expect(await readAll(persistence)).toEqual([
      { type: 'metadata', protocol_version: '1.0', created_at: 1 },
      { type: 'a' },
    ]);
  });

  it('treats a last line without newline that parses as a record, and appends after a newline', async () => {
    const file = path.join(temp.dir, 'no-newline.jsonl');
    writeFileSync(file, '{"type":"a"}\n{"type":"b"}');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    expect((await readAll(persistence)).map((r) => r.type)).toEqual(['a', 'b']);
    persistence.append({ type: 'c' });
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"a"}\n{"type":"b"}\n{"type":"c"}\n');
  });

  it('judges the last line by the one log line rule: blanks without newline are blank, not torn', async () => {
    // read() skips such a line as blank (classifyLogLine); the writer must not call it a torn
    // write, cut it and warn.
    const file = path.join(temp.dir, 'blank-tail.jsonl');
    writeFileSync(file, '{"type":"a"}\n \t ');
    const { seen, onError } = reports();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    expect((await readAll(persistence)).map((r) => r.type)).toEqual(['a']);
    persistence.append({ type: 'c' });
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"a"}\n \t \n{"type":"c"}\n');
    expect(seen).toEqual([]);
    expect(
      readdirSync(temp.dir).filter((name) => name.startsWith('blank-tail.jsonl.torn-')),
    ).toEqual([]);
  });

  it('skips a torn last line, cuts it before appending and keeps its bytes in a side file', async () => {
    const file = path.join(temp.dir, 'torn.jsonl');
    writeFileSync(file, '{"type":"a"}\n{"type":"b","te');
    const { seen, onError } = reports();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    expect((await readAll(persistence)).map((r) => r.type)).toEqual(['a']);
    persistence.append({ type: 'c' });
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"a"}\n{"type":"c"}\n');
    const side = readdirSync(temp.dir).filter((name) => name.startsWith('torn.jsonl.torn-'));
    expect(side).toHaveLength(1);
    expect(readFileSync(path.join(temp.dir, side[0] as string), 'utf8')).toBe('{"type":"b","te');
    expect(statSync(path.join(temp.dir, side[0] as string)).mode & 0o777).toBe(0o600);
    expect(seen.map((r) => r.info.kind)).toEqual(['warning']);
    expect(seen[0]?.error.message).toMatch(/torn line of 15 bytes at offset 13/);
  });

  it('reports a bad middle line as RecordsCorruptError with file, line and byte offset', async () => {
    const file = path.join(temp.dir, 'corrupt.jsonl');
    writeFileSync(file, '{"type":"a"}\n{"type":"b"}\nnot json at all\n{"type":"c"}\n');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    const failure = await readAll(persistence).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject({ file, line: 3, offset: 26 });
    expect((failure as Error).message).toContain(`${file}:3:26`);
    expect((failure as Error).message).toContain('agent-records repair');
  });

  it('reports JSON that is not a record as corrupt', async () => {
    const file = path.join(temp.dir, 'array.jsonl');
    writeFileSync(file, '{"type":"a"}\n[1,2]\n');
    await expect(readAll(new FileSystemAgentRecordPersistence<Rec>(file))).rejects.toMatchObject({
      line: 2,
      offset: 13,
    });
  });

  it('reads a missing log as empty and creates nothing', async () => {
    const file = path.join(temp.dir, 'missing', 'x.jsonl');
    expect(await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).toEqual([]);
    expect(readdirSync(temp.dir)).toEqual([]);
  });
});

/** The sizes of the Buffers that the named `Buffer` factories make while `run` goes. */
async function buffersMadeDuring(
  names: readonly ('allocUnsafe' | 'allocUnsafeSlow' | 'alloc' | 'concat')[],
  run: () => unknown,
): Promise<number[]> {
  const made: number[] = [];
  const spies = names.map((name) => {
    const original = (Buffer[name] as (...args: unknown[]) => Buffer).bind(Buffer);
    return vi.spyOn(Buffer, name).mockImplementation(((...args: unknown[]) => {
      const buffer = original(...args);
      made.push(buffer.length);
      return buffer;
    }) as never);
  });
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return made;
}

/** Whether `memory` is still reachable, after full collections; works without --expose-gc. */
async function stillHeld(memory: readonly WeakRef<ArrayBuffer>[]): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // A WeakRef keeps its target until the job that made or read it ends: collect between turns.
  for (let round = 0; round < 2; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return memory.filter((ref) => ref.deref() !== undefined).length;
}

describe('group commit', () => {
  it("holds none of a burst's queued bytes once it is written and the log is idle", async () => {
    const persistence = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'i.jsonl'));
    persistence.append(rec(0));
    await persistence.flush();
    // The blocks the burst's lines are encoded into (larger than the 16 KiB an idle log keeps).
    const blocks: WeakRef<ArrayBuffer>[] = [];
    const allocUnsafeSlow = Buffer.allocUnsafeSlow.bind(Buffer);
    const spy = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((size: number) => {
      const buffer = allocUnsafeSlow(size);
      if (size > 64 * 1024) blocks.push(new WeakRef(buffer.buffer));
      return buffer;
    });
    try {
      const pad = 'p'.repeat(200);
      for (let n = 1; n <= 30_000; n++) persistence.append({ ...rec(n), text: pad });
    } finally {
      spy.mockRestore();
    }
    await persistence.flush();
    expect(blocks.length).toBeGreaterThan(0);
    // The writer kept a view of the last line, which held its whole 1 MiB block while idle.
    expect(await stillHeld(blocks)).toBe(0);
    await persistence.close();
  });

  it('writes a burst of appends with one write and one data sync', async () => {
    // Without the summary file, whose own writes (off the flush path) would be counted too.
    const { faults, persistence } = openOnFaultyDisk<Rec>(path.join(temp.dir, 'g.jsonl'), {
      summary: false,
    });
    persistence.append(rec(0)); // opens the file
    await persistence.flush();
    const before = { ...faults.calls };
    const syncsBefore = faults.dataSyncs;
    for (const record of range(1, 1001)) persistence.append(record);
    await persistence.flush();
    expect((faults.calls.write ?? 0) - (before.write ?? 0)).toBe(1);
    // The small batch's write is its sync (O_DSYNC): no fdatasync after it.
    expect(faults.dataSyncs - syncsBefore).toBe(1);
    expect((faults.calls.fdatasync ?? 0) - (before.fdatasync ?? 0)).toBe(0);
    expect((faults.calls.open ?? 0) - (before.open ?? 0)).toBe(0);
    expect(await readAll(persistence)).toEqual(range(0, 1001));
  });

  it('writes a large batch straight from the bytes encoded at append, with no copy', async () => {
    // Encoding a 100k-record batch when it was written held the event loop 20-30 ms (bench:
    // batched stall), and its lines, queued as strings, survived scavenges: lines are encoded
    // as they are appended, and a batch is written from those bytes.
    const writes: number[] = [];
    const persistence = new FileSystemAgentRecordPersistence<Rec>(path.join(temp.dir, 'e.jsonl'), {
      summary: false,
      fileOperations: {
        ...nodeFileOperations,
        write: (fd, buffer, offset, length, position) => {
          writes.push(length);
          return nodeFileOperations.write(fd, buffer, offset, length, position);
        },
      },
    });
    persistence.append(rec(0));
    await persistence.flush();
    writes.length = 0;
    for (let n = 1; n <= 16; n++) persistence.append({ ...rec(n), text: 'y'.repeat(300_000) });
    const made = await buffersMadeDuring(
      ['allocUnsafe', 'allocUnsafeSlow', 'alloc', 'concat'],
      () => persistence.flush(),
    );
    await persistence.close();
    expect(made.filter((bytes) => bytes >= 64 * 1024)).toEqual([]);
    expect(writes.length).toBeGreaterThanOrEqual(4);
    for (const length of writes) expect(length).toBeLessThanOrEqual(1024 * 1024 + 300_100);
    const lines = readFileSync(path.join(temp.dir, 'e.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).n)).toEqual(range(0, 17).map((r) => r.n));
  });

  it('a batch of more than one write buffer goes by plain writes and one fdatasync; EIO on it is cut back', async () => {
    const file = path.join(temp.dir, 'big.jsonl');
    const { faults, persistence } = openOnFaultyDisk<Rec>(file, { summary: false });
    persistence.append(rec(0));
    await persistence.flush();
    faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
    for (let n = 1; n <= 5; n++) persistence.append({ ...rec(n), text: 'y'.repeat(300_000) }); // > 1 MiB
    await expect(persistence.flush()).rejects.toMatchObject({ cause: { code: 'EIO' } });
    faults.clear();
    const before = { ...faults.calls };
    await persistence.flush();
    const since = (op: string) => (faults.calls[op] ?? 0) - (before[op] ?? 0);
    // Plain writes (the lines fill several of the queue's blocks), one fdatasync, no O_DSYNC.
    expect(since('write')).toBeGreaterThanOrEqual(2);
    expect([since('fdatasync'), since('dsyncWrite')]).toEqual([1, 0]);
    await persistence.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).n)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('batches concurrent durable appends from several producers', async () => {
    const { faults, persistence } = openOnFaultyDisk<Rec>(path.join(temp.dir, 'c.jsonl'));
    persistence.append(rec(-1));
    await persistence.flush();
    const before = faults.dataSyncs;
    await Promise.all(
      Array.from({ length: 8 }, async (_, producer) => {
        for (let i = 0; i < 25; i++) {
          persistence.append({ type: 'p', n: producer * 100 + i });
          await persistence.flush();
        }
      }),
    );
    const syncs = faults.dataSyncs - before;
    expect(syncs).toBeLessThan(200);
    expect((await readAll(persistence)).length).toBe(201);
  });
});

describe('write faults (through the file-operations seam, on real files)', () => {
  it('ENOSPC after a short write: truncated back, one report, every record once in order after the retry', async () => {
    const file = path.join(temp.dir, 'enospc.jsonl');
    const faults = new FaultyFileSystem();
    const { seen, onError } = reports();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, {
      fileOperations: faults.ops,
      onError,
    });
    for (const record of range(0, 100)) persistence.append(record);
    await persistence.flush();
    const durable = readFileSync(file).length;

    faults.fail('write', ioError('ENOSPC', 'write'), { shortFirst: true });
    for (const record of range(100, 400)) persistence.append(record);
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    // Half a batch reached the disk; the log must not keep it.
    for (const record of range(400, 500)) persistence.append(record);
    await expect(persistence.flush()).rejects.toMatchObject({ cause: { code: 'ENOSPC' } });
    expect(seen.map((r) => r.info.kind)).toEqual(['write-failed']);
    expect(readFileSync(file).length).toBeGreaterThanOrEqual(durable);

    faults.clear();
    await persistence.flush();
    expect(seen.map((r) => r.info.kind)).toEqual(['write-failed', 'write-recovered']);
    await persistence.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(range(0, 500));
  });

  it('EIO on fdatasync: the batch is rewritten after truncation, never duplicated', async () => {
    const file = path.join(temp.dir, 'eio.jsonl');
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    persistence.append(rec(0));
    await persistence.flush();
    faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
    for (const record of range(1, 50)) persistence.append(record);
    await expect(persistence.flush()).rejects.toMatchObject({ cause: { code: 'EIO' } });
    faults.clear();
    await persistence.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(range(0, 50));
  });

  it('through the core: logRecord keeps returning, onError fires once, flush recovers', async () => {
    const file = path.join(temp.dir, 'core.jsonl');
    const faults = new FaultyFileSystem();
    const { seen, onError } = reports();
    // One handler, the core's: it hears the backend's reports through setErrorHandler.
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, {
      fileOperations: faults.ops,
    });
    const records = new AgentRecords<Rec>({ persistence, protocolVersion: '1.0', onError });
    records.logRecord(rec(0));
    await records.flush();
    faults.fail('write', ioError('EIO', 'write'), { shortFirst: true });
    let returned = 0;
    for (let i = 1; i <= 1000; i++) {
      records.logRecord(rec(i));
      returned++;
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(returned).toBe(1000);
    await expect(records.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    expect(seen.filter((r) => r.info.kind === 'write-failed')).toHaveLength(1);
    faults.clear();
    await records.close();
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'metadata' });
    expect(lines.slice(1).map((r) => r.n)).toEqual(Array.from({ length: 1001 }, (_, i) => i));
  });

  it('a failed rewrite leaves the old log and no rewrite temp file; the retry replaces it', async () => {
    const file = path.join(temp.dir, 'rw.jsonl');
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    for (const record of range(0, 10)) persistence.append(record);
    await persistence.flush();
    faults.fail('rename', ioError('EIO', 'rename'));
    persistence.rewrite(range(100, 103));
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(10);
    expect(readdirSync(temp.dir).filter((n) => n.endsWith('.rewrite.tmp'))).toEqual([]);
    expect((await readAll(persistence)).map((r) => r.n)).toEqual([100, 101, 102]);
    faults.clear();
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toBe(
      `${range(100, 103)
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
  });
});

describe('bounds and lock', () => {
  it('throws RecordsOverflowError beyond maxPendingBytes', async () => {
    const { faults, persistence } = openOnFaultyDisk<Rec>(path.join(temp.dir, 'o.jsonl'), {
      maxPendingBytes: 1000,
    });
    faults.fail('write', ioError('ENOSPC', 'write'));
    persistence.append({ type: 'x', text: 'a'.repeat(600) });
    expect(() => persistence.append({ type: 'x', text: 'b'.repeat(600) })).toThrow(
      RecordsOverflowError,
    );
    faults.clear();
    // The dropped record is reported once, by the next flush (here close's); then it closes.
    await expect(persistence.close()).rejects.toBeInstanceOf(RecordsOverflowError);
    await persistence.close();
  });

  it('refuses a record beyond maxPendingBytes without copying it, and keeps the records around it', async () => {
    const file = path.join(temp.dir, 'big-refused.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, {
      maxPendingBytes: 1024 * 1024,
    });
    persistence.append(rec(1));
    const made = await buffersMadeDuring(['allocUnsafe', 'allocUnsafeSlow', 'alloc'], () => {
      expect(() => persistence.append({ type: 'x', n: 2, text: 'é'.repeat(20_000_000) })).toThrow(
        RecordsOverflowError,
      );
    });
    expect(made.filter((bytes) => bytes >= 1024 * 1024)).toEqual([]);
    persistence.append(rec(3));
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsOverflowError);
    await persistence.close();
    expect(await readAll(new FileSystemAgentRecordPersistence<Rec>(file))).toEqual([
      rec(1),
      rec(3),
    ]);
  });

  it('refuses a second writer instance in the same process for good', async () => {
    const file = path.join(temp.dir, 'locked.jsonl');
    const first = new FileSystemAgentRecordPersistence<Rec>(file);
    first.append(rec(1));
    await first.flush();

    const { seen, onError } = reports();
    const second = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    second.append(rec(666));
    await expect(second.flush()).rejects.toBeInstanceOf(RecordsLockedError);
    await expect(second.flush()).rejects.toThrow(/another instance in this process/);
    await expect(second.close()).rejects.toBeInstanceOf(RecordsLockedError);
    expect(seen.map((r) => [r.info.kind, r.error.constructor.name])).toEqual([
      ['write-failed', 'RecordsLockedError'],
    ]);

    first.append(rec(2));
    await first.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"test","n":1}\n{"type":"test","n":2}\n');
  });

  it('takes over a stale lock whose pid is gone', async () => {
    const file = path.join(temp.dir, 'stale.jsonl');
    const { hostname } = await import('node:os');
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: 2 ** 22 + 12345, token: 'dead', host: hostname(), acquired_at: 1 }),
    );
    const { seen, onError } = reports();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    persistence.append(rec(1));
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"test","n":1}\n');
    expect(seen.map((r) => r.info.kind)).toEqual(['warning']);
    expect(seen[0]?.error.message).toMatch(/stale lock/);
  });

  it('with lock: false, writes without a lock file', async () => {
    const file = path.join(temp.dir, 'nolock.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { lock: false });
    persistence.append(rec(1));
    await persistence.flush();
    expect(readdirSync(temp.dir).filter((name) => name.endsWith('.lock'))).toEqual([]);
    await persistence.close();
  });
});

describe('rewrite racing a failed batch', () => {
  it('drops appends that a rewrite queued during their failed write supersedes', async () => {
    const file = path.join(temp.dir, 'race.jsonl');
    const { faults, persistence } = openOnFaultyDisk<Rec>(file);
    persistence.append(rec(0));
    await persistence.flush();
    faults.fail('fdatasync', ioError('EIO', 'fdatasync'));
    for (const record of range(1, 5)) persistence.append(record);
    const writesBefore = faults.calls.write ?? 0;
    const failed = persistence.flush().catch((error: unknown) => error);
    while ((faults.calls.write ?? 0) === writesBefore) await new Promise((r) => setImmediate(r));
    persistence.rewrite(range(100, 102)); // queued while the batch is in flight
    expect(await failed).toBeInstanceOf(RecordsWriteError);
    faults.clear();
    await persistence.close();
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(range(100, 102));
  });
});

describe('rewrite', () => {
  it('refuses a rewrite holding an unserialisable record as a whole and keeps the old log', async () => {
    const file = path.join(temp.dir, 'refused.jsonl');
    const { seen, onError } = reports();
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file, { onError });
    for (const record of range(0, 3)) persistence.append(record);
    await persistence.flush();
    persistence.rewrite([rec(100), { type: 'bad', n: 1n } as unknown as Rec]);
    const failure = await persistence.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as Error).message).toMatch(/rewrite .* was refused and the old log kept/);
    expect(seen.map((r) => r.info)).toEqual([{ kind: 'record-refused', recordType: 'bad' }]);
    persistence.append(rec(3));
    await persistence.close();
    expect(
      readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(range(0, 4));
    expect(readdirSync(temp.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

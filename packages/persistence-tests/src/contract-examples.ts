// Example tests of the contract for cases that random sequences find only rarely: a mutation of a
// record queued behind a batch in flight, a failed rewrite seen by a fresh reader, a first write
// after an empty read, and background writes draining with nobody calling flush().
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsWriteError,
} from '@agent-records/types';
import { expect, it } from 'vitest';
import type { ContractOpenOptions, PersistenceContractSubject } from './contract.js';

type Persistence = AgentRecordPersistence<AgentRecordEnvelope>;
type Rec = AgentRecordEnvelope & { n?: number; text?: string; nested?: { state: string } };

export interface ExampleContext {
  subject(): PersistenceContractSubject;
  open(options?: ContractOpenOptions): Persistence;
  reopen(previous: Persistence): Promise<Persistence>;
}

async function readAll(persistence: Persistence): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const record of persistence.read()) out.push(record as Rec);
  return out;
}

/** Reads the store through a fresh reader (closed afterwards). */
async function readFresh(subject: PersistenceContractSubject): Promise<Rec[]> {
  const reader = subject.openReader?.();
  if (!reader) throw new Error('the subject has no openReader');
  try {
    return await readAll(reader);
  } finally {
    await reader.close().catch(() => {});
  }
}

/** Polls a fresh reader until `done` holds or the deadline passes; returns the last read. */
async function pollStore(
  subject: PersistenceContractSubject,
  done: (records: Rec[]) => boolean,
  deadlineMs = 10_000,
): Promise<Rec[]> {
  const deadline = Date.now() + deadlineMs;
  let delay = 2;
  for (;;) {
    const records = await readFresh(subject);
    if (done(records) || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
}

export function registerExampleTests(context: ExampleContext): void {
  it('logs a record queued behind a batch in flight as it was at append, though mutated afterwards', async () => {
    const persistence = context.open();
    const padding = 'x'.repeat(2_000);
    for (let n = 0; n < 2_000; n++)
      persistence.append({ type: 'test.record', n, text: padding } as Rec);
    // Let the writer take that batch, so the next record queues behind one in flight.
    await new Promise((resolve) => setImmediate(resolve));
    const queued: Rec = { type: 'test.queued', n: 2_000, nested: { state: 'as appended' } };
    persistence.append(queued);
    (queued.nested as { state: string }).state = 'mutated while queued';
    queued.type = 'test.mutated';
    await new Promise((resolve) => setImmediate(resolve));
    queued.n = -1;
    await persistence.flush();
    const expected = { type: 'test.queued', n: 2_000, nested: { state: 'as appended' } };
    expect((await readAll(persistence)).at(-1)).toEqual(expected);
    const reopened = await readAll(await context.reopen(persistence));
    expect(reopened).toHaveLength(2_001);
    expect(reopened.at(-1)).toEqual(expected);
  });

  it('a failed rewrite leaves the old log readable by a fresh reader', async (test) => {
    const subject = context.subject();
    if (!subject.injectWriteFault || !subject.openReader) {
      test.skip('the factory provides no injectWriteFault or no openReader hook');
      return;
    }
    const persistence = context.open({ onError: () => {} });
    const old = Array.from({ length: 20 }, (_, n) => ({ type: 'test.old', n }) as Rec);
    for (const record of old) persistence.append(record);
    await persistence.flush();
    const fault = await subject.injectWriteFault(persistence, new Error('EIO: rewrite failed'));
    persistence.rewrite([{ type: 'test.new', n: 100 } as Rec]);
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    // The store still holds the whole old log, nothing of the new one, and a reader can read it.
    expect(await readFresh(subject)).toEqual(old);
    await fault.clear();
    await persistence.flush();
    expect(await readFresh(subject)).toEqual([{ type: 'test.new', n: 100 }]);
  });

  it('a rewrite queued behind a rewrite in flight is durable when flush() resolves', async (test) => {
    const subject = context.subject();
    if (!subject.openReader) {
      test.skip('the factory provides no openReader hook');
      return;
    }
    const persistence = context.open();
    persistence.rewrite([{ type: 'test.first-rewrite', n: 1 } as Rec]);
    // A read lets the writer start the first rewrite before the second is queued.
    expect(await readAll(persistence)).toEqual([{ type: 'test.first-rewrite', n: 1 }]);
    persistence.rewrite([{ type: 'test.second-rewrite', n: 2 } as Rec]);
    await persistence.flush();
    expect(await readFresh(subject)).toEqual([{ type: 'test.second-rewrite', n: 2 }]);
  });

  it('read() while background writes are in flight yields every record once', async () => {
    const persistence = context.open();
    const expected: number[] = [];
    // Reads land before, during and after each batch's write and commit.
    for (let n = 0; n < 150; n++) {
      persistence.append({ type: 'test.record', n } as Rec);
      expected.push(n);
      if (n % 3 === 1) await new Promise((resolve) => setTimeout(resolve, n % 5));
      expect((await readAll(persistence)).map((r) => r.n)).toEqual(expected);
    }
    await persistence.flush();
    expect((await readAll(persistence)).map((r) => r.n)).toEqual(expected);
  });

  it('reads a new log as empty, then a record appended and flushed reaches a fresh reader', async () => {
    const subject = context.subject();
    const persistence = context.open();
    expect(await readAll(persistence)).toEqual([]);
    persistence.append({ type: 'test.first', n: 1 } as Rec);
    await persistence.flush();
    expect(await readAll(persistence)).toEqual([{ type: 'test.first', n: 1 }]);
    const fresh = subject.openReader
      ? await readFresh(subject)
      : await readAll(await context.reopen(persistence));
    expect(fresh).toEqual([{ type: 'test.first', n: 1 }]);
  });

  it('a record appended right after await flush() reaches the store without another flush', async (test) => {
    const subject = context.subject();
    if (!subject.openReader) {
      test.skip('the factory provides no openReader hook');
      return;
    }
    const persistence = context.open();
    persistence.append({ type: 'test.record', n: 1 } as Rec);
    await persistence.flush();
    persistence.append({ type: 'test.record', n: 2 } as Rec);
    // Nobody flushes: the writer must still write it, within a writer turn (polled, not slept).
    const stored = await pollStore(subject, (records) => records.length >= 2);
    expect(stored.map((r) => r.n)).toEqual([1, 2]);
    // And again after an idle writer, with no flush ever waiting.
    await new Promise((resolve) => setTimeout(resolve, 20));
    persistence.append({ type: 'test.record', n: 3 } as Rec);
    const later = await pollStore(subject, (records) => records.length >= 3);
    expect(later.map((r) => r.n)).toEqual([1, 2, 3]);
  });
}

// Example tests of the snapshot capability (writeSnapshot, readSnapshot): written in order with
// the appends once the records it covers are durable, at their end, never holding up the appends
// after it, dropped (a warning, never an episode) when its data rejects or a rewrite comes after.
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsErrorInfo,
  RecordsPositionError,
  type StoredSnapshot,
} from '@agent-records/types';
import { expect, it } from 'vitest';
import type { ExampleContext } from './contract-examples.js';
import { readFromAll, recordsOf } from './read-from.js';

type Persistence = AgentRecordPersistence<AgentRecordEnvelope>;
type Rec = AgentRecordEnvelope & { n?: number };

const numbered = (count: number, start = 0): Rec[] =>
  Array.from({ length: count }, (_, i) => ({ type: 'test.record', n: start + i }));

function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A few macrotask turns: enough for a backend that would wrongly settle early to do so. */
async function someTurns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const read = (persistence: Persistence): Promise<StoredSnapshot | null> =>
  (persistence.readSnapshot as () => Promise<StoredSnapshot | null>).call(persistence);
const write = (persistence: Persistence, records: number, data: string | Promise<string>) =>
  persistence.writeSnapshot?.({ records, data }) as unknown;

/** The drop was reported as a warning; nothing was an episode or a refused record. */
function expectOneDrop(reports: Array<{ kind: RecordsErrorInfo['kind']; message: string }>) {
  expect(reports.filter((report) => report.kind !== 'warning')).toEqual([]);
  expect(reports.length).toBeGreaterThanOrEqual(1);
}

function withReports(context: ExampleContext) {
  const reports: Array<{ kind: RecordsErrorInfo['kind']; message: string }> = [];
  const persistence = context.open({
    onError: (error, info) => reports.push({ kind: info.kind, message: error.message }),
  });
  return { persistence, reports };
}

export function registerSnapshotExamples(context: ExampleContext, withReadFrom: boolean): void {
  /** The snapshot's position must hold and yield exactly `tail` after it. */
  const expectTail = async (persistence: Persistence, snapshot: StoredSnapshot, tail: Rec[]) => {
    if (!withReadFrom) return;
    expect(recordsOf(await readFromAll(persistence, snapshot.position))).toEqual(tail);
  };

  it('reads no snapshot from a new log', async () => {
    expect(await read(context.open())).toBeNull();
  });

  it('stores a snapshot once flush() resolves, at the end of the records it covers', async () => {
    const persistence = context.open();
    for (const record of numbered(3)) persistence.append(record);
    expect(write(persistence, 3, '{"state":"é😀"}')).toBeUndefined();
    for (const record of numbered(2, 3)) persistence.append(record);
    await persistence.flush();
    const snapshot = await read(persistence);
    const bytes = Buffer.byteLength('{"state":"é😀"}', 'utf8'); // 18: UTF-8, not UTF-16
    expect(snapshot).toMatchObject({ records: 3, data: '{"state":"é😀"}', bytes });
    expect(Number.isFinite(snapshot?.writtenAt)).toBe(true);
    await expectTail(persistence, snapshot as StoredSnapshot, numbered(2, 3));
    const reopened = await context.reopen(persistence);
    expect(await read(reopened)).toEqual(snapshot);
    await expectTail(reopened, snapshot as StoredSnapshot, numbered(2, 3));
  });

  it('a snapshot of a flushed log covers it, not the appends queued right after the call', async () => {
    const persistence = context.open();
    persistence.append({ type: 'test.record', n: 0 } as Rec);
    await persistence.flush();
    write(persistence, 1, 'idle');
    persistence.append({ type: 'test.record', n: 1 } as Rec); // before the writer runs again
    await persistence.flush();
    await expectTail(persistence, (await read(persistence)) as StoredSnapshot, numbered(1, 1));
  });

  it('keeps writing appends while the data is made; flush() waits for it', async () => {
    const subject = context.subject();
    const persistence = context.open();
    persistence.append({ type: 'test.record', n: 0 } as Rec);
    const data = later<string>();
    write(persistence, 1, data.promise);
    for (const record of numbered(3, 1)) persistence.append(record);
    let flushed = false;
    const flushing = persistence.flush().then(() => {
      flushed = true;
    });
    if (subject.openReader) {
      // The appends after it reach the store while its data is still being made.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const reader = subject.openReader();
        const stored: unknown[] = [];
        for await (const record of reader.read()) stored.push(record);
        await reader.close().catch(() => {});
        if (stored.length === 4 || Date.now() > deadline) {
          expect(stored).toEqual(numbered(4));
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    await someTurns();
    expect(flushed).toBe(false); // a flush resolves only once earlier snapshots are stored
    data.resolve('made later');
    await flushing;
    const snapshot = await read(persistence);
    expect(snapshot).toMatchObject({ records: 1, data: 'made later' });
    await expectTail(persistence, snapshot as StoredSnapshot, numbered(3, 1));
  });

  it('data that rejects drops the snapshot as a warning: no episode, flush resolves, the older one stays', async () => {
    const { persistence, reports } = withReports(context);
    persistence.append({ type: 'test.record', n: 0 } as Rec);
    write(persistence, 1, 'kept');
    persistence.append({ type: 'test.record', n: 1 } as Rec);
    write(persistence, 2, Promise.reject(new Error('state not serialisable')));
    await persistence.flush();
    expect((await read(persistence))?.data).toBe('kept');
    expectOneDrop(reports);
  });

  it('only the newest snapshot is kept', async () => {
    const persistence = context.open();
    persistence.append({ type: 'test.record', n: 0 } as Rec);
    write(persistence, 1, 'first');
    persistence.append({ type: 'test.record', n: 1 } as Rec);
    write(persistence, 2, Promise.resolve('second'));
    await persistence.flush();
    const snapshot = await read(persistence);
    expect(snapshot).toMatchObject({ records: 2, data: 'second' });
    await expectTail(persistence, snapshot as StoredSnapshot, []);
  });

  it('a rewrite after the call drops it (a warning), and no earlier snapshot matches the new log', async () => {
    const { persistence, reports } = withReports(context);
    for (const record of numbered(3)) persistence.append(record);
    write(persistence, 3, 'before');
    await persistence.flush();
    const data = later<string>();
    write(persistence, 3, data.promise);
    persistence.rewrite(numbered(3, 100));
    data.resolve('stood for the old log');
    await persistence.flush();
    expectOneDrop(reports);
    const after = await read(persistence);
    // Gone, or unusable: its position no longer matches the log.
    if (after !== null) {
      expect(after.data).toBe('before');
      if (withReadFrom) {
        await expect(readFromAll(persistence, after.position)).rejects.toBeInstanceOf(
          RecordsPositionError,
        );
      }
    }
  });

  it('a snapshot asked for during a write failure is stored correctly, or dropped, once writes work', async (test) => {
    const subject = context.subject();
    if (!subject.injectWriteFault) {
      test.skip('the factory provides no injectWriteFault hook');
      return;
    }
    const persistence = context.open({ onError: () => {} });
    persistence.append({ type: 'test.record', n: 0 } as Rec);
    await persistence.flush();
    const fault = await subject.injectWriteFault(persistence, new Error('EIO: snapshot test'));
    persistence.append({ type: 'test.record', n: 1 } as Rec);
    write(persistence, 2, 'during the fault');
    persistence.append({ type: 'test.record', n: 2 } as Rec);
    await expect(persistence.flush()).rejects.toThrow();
    await fault.clear();
    await persistence.flush();
    const snapshot = await read(persistence);
    if (snapshot !== null) {
      expect(snapshot).toMatchObject({ records: 2, data: 'during the fault' });
      await expectTail(persistence, snapshot, numbered(1, 2));
    }
  });
}

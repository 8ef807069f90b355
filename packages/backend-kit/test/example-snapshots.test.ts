import type { AgentRecordEnvelope, RecordsBatch } from '@agent-records/types';
import { RecordsPositionError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ArrayLogPersistence, type LineStore } from '../examples/array-log-persistence.js';

// The README example's snapshot capability: the kit's PendingSnapshots, OperationQueue marks and
// WriterLoop.wake working together in a real (if in-process) backend.

const rec = (n: number): AgentRecordEnvelope => ({ type: 'n', n }) as AgentRecordEnvelope;

function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function collect(batches: AsyncIterable<RecordsBatch<AgentRecordEnvelope>>) {
  const out: Array<{ records: unknown[]; end: unknown }> = [];
  for await (const batch of batches) out.push({ records: [...batch.records], end: batch.end });
  return out;
}

function open(store: LineStore = { lines: [] }) {
  const warnings: string[] = [];
  const persistence = new ArrayLogPersistence(store, {
    onError: (error, info) => {
      if (info.kind === 'warning') warnings.push(error.message);
    },
  });
  return { store, persistence, warnings };
}

describe('the README example, snapshots', () => {
  it('keeps writing appends while the data is made, then stores it at the position it covers', async () => {
    const { store, persistence } = open();
    persistence.append(rec(1));
    persistence.append(rec(2));
    const data = later<string>();
    persistence.writeSnapshot({ records: 2, data: data.promise });
    persistence.append(rec(3));
    persistence.append(rec(4));
    await until(() => store.lines.length === 4, 'the appends after the snapshot');
    expect(store.snapshot ?? null).toBeNull();
    data.resolve('{"state":2}');
    await persistence.flush();
    const snapshot = await persistence.readSnapshot();
    expect(snapshot).toMatchObject({ records: 2, data: '{"state":2}', bytes: 11 });
    expect(snapshot?.position).toEqual({ index: 2, generation: 0 });
    const tail = await collect(persistence.readFrom(snapshot?.position ?? null));
    expect(tail.flatMap((batch) => batch.records)).toEqual([rec(3), rec(4)]);
  });

  it('takes the position of an idle log before the appends queued right after the request', async () => {
    const { persistence } = open();
    persistence.append(rec(1));
    await persistence.flush();
    persistence.writeSnapshot({ records: 1, data: 's' });
    persistence.append(rec(2)); // queued before the writer runs
    await persistence.flush();
    expect((await persistence.readSnapshot())?.position).toEqual({ index: 1, generation: 0 });
  });

  it('a rewrite queued after the request drops it (a warning) and removes the stored one', async () => {
    const { persistence, warnings } = open();
    persistence.append(rec(1));
    persistence.writeSnapshot({ records: 1, data: 'old' });
    await persistence.flush();
    expect(await persistence.readSnapshot()).not.toBeNull();
    const data = later<string>();
    persistence.writeSnapshot({ records: 1, data: data.promise });
    persistence.rewrite([rec(9)]);
    data.resolve('dropped');
    await persistence.flush();
    expect(await persistence.readSnapshot()).toBeNull();
    expect(warnings).toEqual([expect.stringMatching(/dropped: the log is rewritten/)]);
    const stale = persistence.readFrom({ index: 1, generation: 0 });
    await expect(collect(stale)).rejects.toBeInstanceOf(RecordsPositionError);
  });

  it('data that rejects drops the snapshot as a warning; flush resolves, the older one stays', async () => {
    const { persistence, warnings } = open();
    persistence.append(rec(1));
    persistence.writeSnapshot({ records: 1, data: 'kept' });
    persistence.append(rec(2));
    persistence.writeSnapshot({ records: 2, data: Promise.reject(new Error('cannot serialise')) });
    await persistence.flush();
    expect((await persistence.readSnapshot())?.data).toBe('kept');
    expect(warnings).toEqual([expect.stringMatching(/could not be made \(cannot serialise\)/)]);
  });
});

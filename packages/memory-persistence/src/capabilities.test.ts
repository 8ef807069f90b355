import {
  type AgentRecordEnvelope,
  type RecordsBatch,
  type RecordsErrorInfo,
  RecordsPositionError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { InMemoryAgentRecordPersistence } from './memory-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });

async function batchesOf(batches: AsyncIterable<RecordsBatch<Rec>>) {
  const out: Array<{ records: Rec[]; end: unknown }> = [];
  for await (const batch of batches) out.push({ records: [...batch.records], end: batch.end });
  return out;
}

function open(records: Rec[] = []) {
  const reports: Array<[RecordsErrorInfo['kind'], string]> = [];
  const persistence = new InMemoryAgentRecordPersistence<Rec>(records, {
    onError: (error, info) => reports.push([info.kind, error.message]),
  });
  return { persistence, reports };
}

describe('InMemoryAgentRecordPersistence readFrom', () => {
  it('yields written records with { index, generation } ends, then unwritten ones with end null', async () => {
    const { persistence } = open([rec(1), rec(2)]);
    persistence.append(rec(3)); // not written yet: the read below starts on this stack
    const batches = await batchesOf(persistence.readFrom(null));
    expect(batches).toEqual([
      { records: [rec(1), rec(2)], end: { index: 2, generation: 0 } },
      { records: [rec(3)], end: null },
    ]);
  });

  it('reads on from the end of an earlier batch after more appends', async () => {
    const { persistence } = open([rec(1)]);
    const [first] = await batchesOf(persistence.readFrom(null));
    persistence.append(rec(2));
    persistence.append(rec(3));
    await persistence.flush();
    const rest = await batchesOf(persistence.readFrom(first?.end as never));
    expect(rest).toEqual([{ records: [rec(2), rec(3)], end: { index: 3, generation: 0 } }]);
  });

  it('rejects a position from before a rewrite, queued or written, with RecordsPositionError', async () => {
    const { persistence } = open([rec(1), rec(2)]);
    const position = { index: 2, generation: 0 };
    persistence.rewrite([rec(9)]);
    await expect(batchesOf(persistence.readFrom(position))).rejects.toThrow(
      /being rewritten \(a rewrite is queued\)/,
    );
    await persistence.flush();
    const error = await batchesOf(persistence.readFrom(position)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordsPositionError);
    expect((error as Error).message).toMatch(/rewritten since that position .*generation 0, now 1/);
    expect(await batchesOf(persistence.readFrom({ index: 1, generation: 1 }))).toEqual([]);
  });

  it('rejects a position past the end or not of this backend', async () => {
    const { persistence } = open([rec(1)]);
    await expect(batchesOf(persistence.readFrom({ index: 2, generation: 0 }))).rejects.toThrow(
      /holds 1 records, fewer than the 2 .*truncated/,
    );
    await expect(batchesOf(persistence.readFrom({ offset: 5 }))).rejects.toBeInstanceOf(
      RecordsPositionError,
    );
  });

  it('injectFault read fails readFrom too', async () => {
    const { persistence } = open([rec(1)]);
    persistence.injectFault({ op: 'read', error: new Error('EIO read') });
    await expect(batchesOf(persistence.readFrom(null))).rejects.toThrow('EIO read');
  });
});

describe('InMemoryAgentRecordPersistence snapshots', () => {
  it('stores a snapshot at the position after the records it covers', async () => {
    const { persistence } = open([rec(1)]);
    persistence.append(rec(2));
    persistence.writeSnapshot({ records: 2, data: Promise.resolve('{"n":2}') });
    persistence.append(rec(3));
    await persistence.flush();
    const snapshot = await persistence.readSnapshot();
    expect(snapshot).toMatchObject({ records: 2, data: '{"n":2}', bytes: 7 });
    expect(snapshot?.position).toEqual({ index: 2, generation: 0 });
    expect(typeof snapshot?.writtenAt).toBe('number');
    const tail = await batchesOf(persistence.readFrom(snapshot?.position ?? null));
    expect(tail.flatMap((batch) => batch.records)).toEqual([rec(3)]);
  });

  it("injectFault 'snapshot' drops the snapshot as a warning; flush resolves, the older one stays", async () => {
    const { persistence, reports } = open();
    persistence.append(rec(1));
    persistence.writeSnapshot({ records: 1, data: 'first' });
    await persistence.flush();
    persistence.injectFault({ op: 'snapshot', error: new Error('EIO snapshot') });
    persistence.append(rec(2));
    persistence.writeSnapshot({ records: 2, data: 'second' });
    await persistence.flush();
    expect((await persistence.readSnapshot())?.data).toBe('first');
    expect(reports).toEqual([
      ['warning', expect.stringMatching(/writing it failed \(EIO snapshot\)/)],
    ]);
  });

  it('a written rewrite removes the stored snapshot', async () => {
    const { persistence } = open([rec(1)]);
    persistence.writeSnapshot({ records: 1, data: 's' });
    await persistence.flush();
    expect(await persistence.readSnapshot()).not.toBeNull();
    persistence.rewrite([rec(2)]);
    await persistence.flush();
    expect(await persistence.readSnapshot()).toBeNull();
  });

  it('a snapshot asked for after a refused rewrite is dropped: it stood for the rewritten log', async () => {
    const { persistence, reports } = open([rec(1)]);
    const cyclic: Record<string, unknown> = { type: 'test', n: 2 };
    cyclic.self = cyclic;
    persistence.rewrite([cyclic as unknown as Rec]);
    persistence.writeSnapshot({ records: 1, data: 'after the refused rewrite' });
    await expect(persistence.flush()).rejects.toThrow(/rewrite was refused/);
    await persistence.flush();
    expect(await persistence.readSnapshot()).toBeNull();
    expect(
      reports.map(([kind, message]) => [kind, /was dropped: its rewrite/.test(message)]),
    ).toEqual([
      ['record-refused', false],
      ['warning', true],
    ]);
  });

  it('a snapshot asked for after close() is dropped with a warning, without throwing', async () => {
    const { persistence, reports } = open();
    await persistence.close();
    persistence.writeSnapshot({ records: 0, data: 'late' });
    // Data that rejects is not left unhandled (the workers run with strict unhandled rejections).
    persistence.writeSnapshot({ records: 0, data: Promise.reject(new Error('late data')) });
    expect(reports).toEqual([
      ['warning', expect.stringMatching(/was dropped: it was asked for after close\(\)/)],
      ['warning', expect.stringMatching(/was dropped: it was asked for after close\(\)/)],
    ]);
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe('InMemoryAgentRecordPersistence setTitle', () => {
  it('keeps the title once written, beside the log (not in it); refuses after close', async () => {
    const { persistence } = open([rec(1)]);
    persistence.setTitle('Fix the flaky test');
    expect(persistence.title).toBeUndefined(); // queued like an append
    await persistence.flush();
    expect(persistence.title).toBe('Fix the flaky test');
    expect(persistence.records).toEqual([rec(1)]);
    await persistence.close();
    expect(() => persistence.setTitle('late')).toThrow(/closed/);
  });
});

import {
  type AgentRecordEnvelope,
  RecordsConflictError,
  type RecordsErrorInfo,
  RecordsInvalidSessionIdError,
  RecordsLockedError,
} from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InMemoryAgentRecordStore } from './memory-store.js';

type Rec = AgentRecordEnvelope & { n?: number; text?: string };
const rec = (n: number): Rec => ({ type: 'test', n });

// Date.now() is set by hand (nothing else is faked): the order under test never depends on how
// fast the machine is.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_000);
});
afterEach(() => {
  vi.useRealTimers();
});

async function write(store: InMemoryAgentRecordStore, id: string, at: number, ...records: Rec[]) {
  vi.setSystemTime(at);
  const persistence = store.open<Rec>(id);
  for (const record of records) persistence.append(record);
  await persistence.close();
  return persistence;
}

describe('InMemoryAgentRecordStore', () => {
  it('persistences opened on one id share its log, snapshot and title', async () => {
    const store = new InMemoryAgentRecordStore();
    const first = store.open<Rec>('s1');
    first.append(rec(1));
    first.writeSnapshot({ records: 1, data: 'state' });
    first.setTitle('one');
    await first.close();
    const second = store.open<Rec>('s1');
    expect(second.records).toEqual([rec(1)]);
    expect((await second.readSnapshot())?.data).toBe('state');
    expect(second.title).toBe('one');
    expect(store.open<Rec>('s2').records).toEqual([]);
  });

  it('refuses an invalid session id at open() and delete() with RecordsInvalidSessionIdError', async () => {
    const store = new InMemoryAgentRecordStore();
    for (const id of ['', '../x', 'a/b', '.hidden', 'nul\u0000', 'x'.repeat(400)]) {
      expect(() => store.open(id)).toThrow(RecordsInvalidSessionIdError);
      await expect(store.delete(id)).rejects.toBeInstanceOf(RecordsInvalidSessionIdError);
    }
  });

  it('lists summaries: createdAt from the metadata record, updatedAt the last write, records, UTF-8 bytes, title', async () => {
    const store = new InMemoryAgentRecordStore();
    const metadata = { type: 'metadata', protocol_version: '1.0', created_at: 42 } as Rec;
    const persistence = await write(store, 'with-meta', 2_000, metadata, {
      type: 'note',
      text: 'é😀',
    });
    await write(store, 'plain', 3_000, rec(1));
    vi.setSystemTime(5_000);
    const again = store.open<Rec>('plain');
    again.append(rec(2));
    again.setTitle('Plain session');
    await again.close();
    store.open('never-written'); // no log yet: not listed
    const lines = [metadata, { type: 'note', text: 'é😀' }].map((r) => `${JSON.stringify(r)}\n`);
    expect(await store.list()).toEqual([
      {
        id: 'plain',
        createdAt: 3_000,
        updatedAt: 5_000,
        records: 2,
        bytes: 2 * Buffer.byteLength(`${JSON.stringify(rec(1))}\n`),
        title: 'Plain session',
      },
      {
        id: 'with-meta',
        createdAt: 42,
        updatedAt: 2_000,
        records: 2,
        bytes: Buffer.byteLength(lines.join(''), 'utf8'),
      },
    ]);
    expect(persistence.records).toHaveLength(2);
  });

  it('a title alone does not make activity; a rewrite does, and sets records and bytes', async () => {
    const store = new InMemoryAgentRecordStore();
    await write(store, 'a', 1_000, rec(1), rec(2));
    vi.setSystemTime(9_000);
    const titled = store.open<Rec>('a');
    titled.setTitle('t');
    await titled.close();
    expect((await store.list())[0]).toMatchObject({ updatedAt: 1_000, title: 't' });
    const rewritten = store.open<Rec>('a');
    rewritten.rewrite([rec(7)]);
    await rewritten.close();
    expect((await store.list())[0]).toMatchObject({
      updatedAt: 9_000,
      records: 1,
      bytes: Buffer.byteLength(`${JSON.stringify(rec(7))}\n`),
    });
  });

  it('sorts by last write, newest first, then id; pages with limit and after', async () => {
    const store = new InMemoryAgentRecordStore();
    await write(store, 'b', 2_000, rec(1));
    await write(store, 'a', 2_000, rec(1)); // same time: by id
    await write(store, 'c', 3_000, rec(1));
    await write(store, 'd', 1_000, rec(1));
    const all = await store.list();
    expect(all.map((s) => s.id)).toEqual(['c', 'a', 'b', 'd']);
    const first = await store.list({ limit: 2 });
    expect(first.map((s) => s.id)).toEqual(['c', 'a']);
    const second = await store.list({ limit: 2, after: first[1] });
    expect(second.map((s) => s.id)).toEqual(['b', 'd']);
    expect(await store.list({ limit: 2, after: second[1] })).toEqual([]);
    expect(await store.list({ limit: 0 })).toEqual([]);
    await expect(store.list({ limit: -1 })).rejects.toThrow(TypeError);
  });

  it('delete removes the log, its snapshot and title; false for a session without a log', async () => {
    const store = new InMemoryAgentRecordStore();
    const persistence = store.open<Rec>('gone');
    persistence.append(rec(1));
    persistence.writeSnapshot({ records: 1, data: 's' });
    persistence.setTitle('t');
    await persistence.close();
    store.open('opened-only');
    expect(await store.delete('gone')).toBe(true);
    expect(await store.delete('gone')).toBe(false);
    expect(await store.delete('opened-only')).toBe(false);
    expect(await store.delete('unknown')).toBe(false);
    expect(await store.list()).toEqual([]);
    const reopened = store.open<Rec>('gone');
    expect(reopened.records).toEqual([]);
    expect(await reopened.readSnapshot()).toBeNull();
    expect(reopened.title).toBeUndefined();
  });

  it('gives its options to every persistence it opens', async () => {
    const kinds: string[] = [];
    const store = new InMemoryAgentRecordStore({ onError: (_e, info) => kinds.push(info.kind) });
    const persistence = store.open<Rec>('s');
    persistence.injectFault({ op: 'append' });
    persistence.append(rec(1));
    await expect(persistence.flush()).resolves.toBeUndefined();
    expect(kinds).toEqual(['write-failed', 'write-recovered']);
  });

  describe('one writer per session, as the file backend', () => {
    const heard = () => {
      const seen: Array<{ error: Error; info: RecordsErrorInfo }> = [];
      return {
        seen,
        onError: (error: Error, info: RecordsErrorInfo) => seen.push({ error, info }),
      };
    };
    const all = async (persistence: { read(): AsyncIterable<Rec> }) => {
      const out: Rec[] = [];
      for await (const record of persistence.read()) out.push(record);
      return out;
    };

    it('a second live writer is refused for good (RecordsLockedError); the first keeps the session until it closes', async () => {
      const store = new InMemoryAgentRecordStore();
      const a = heard();
      const b = heard();
      const first = store.open<Rec>('m', { onError: a.onError });
      const second = store.open<Rec>('m', { onError: b.onError });
      first.append(rec(1));
      second.append(rec(101));
      first.append(rec(2));
      second.append(rec(102));
      await expect(first.flush()).resolves.toBeUndefined();
      await expect(second.flush()).rejects.toBeInstanceOf(RecordsLockedError);
      await expect(second.flush()).rejects.toBeInstanceOf(RecordsLockedError);
      second.append(rec(103)); // refused for good: not written, no throw
      first.append(rec(3));
      await expect(first.close()).resolves.toBeUndefined();
      await expect(second.close()).rejects.toBeInstanceOf(RecordsLockedError);
      expect(a.seen).toEqual([]);
      expect(b.seen.map((r) => r.error)).toEqual([expect.any(RecordsLockedError)]);
      expect(b.seen[0]?.error.message).toMatch(/one writer/i);
      expect(store.open<Rec>('m').records).toEqual([rec(1), rec(2), rec(3)]);
      // Released on close: the next writer takes the session.
      const third = store.open<Rec>('m');
      third.append(rec(4));
      await expect(third.close()).resolves.toBeUndefined();
      expect(third.records).toEqual([rec(1), rec(2), rec(3), rec(4)]);
    });

    it('readers are never refused, and a persistence that never wrote does not hold the session', async () => {
      const store = new InMemoryAgentRecordStore();
      const reader = store.open<Rec>('m');
      const writer = store.open<Rec>('m');
      writer.append(rec(1));
      await writer.flush();
      expect(await all(reader)).toEqual([rec(1)]);
      await expect(reader.close()).resolves.toBeUndefined();
      await expect(writer.close()).resolves.toBeUndefined();
    });

    it('delete is refused (RecordsLockedError) while a writer holds the session', async () => {
      const store = new InMemoryAgentRecordStore();
      const writer = store.open<Rec>('m');
      writer.append(rec(1));
      await writer.flush();
      await expect(store.delete('m')).rejects.toBeInstanceOf(RecordsLockedError);
      await writer.close();
      expect(await store.delete('m')).toBe(true);
    });

    it('a session deleted after a persistence read it: its next write is a RecordsConflictError, never dropped in silence', async () => {
      const store = new InMemoryAgentRecordStore();
      await write(store, 'd1', 1_000, rec(1));
      const { seen, onError } = heard();
      const resumed = store.open<Rec>('d1', { onError });
      expect(await all(resumed)).toEqual([rec(1)]);
      expect(await store.delete('d1')).toBe(true);
      resumed.append(rec(2));
      await expect(resumed.flush()).rejects.toBeInstanceOf(RecordsConflictError);
      await expect(resumed.close()).rejects.toBeInstanceOf(RecordsConflictError);
      expect(seen.map((r) => r.error)).toEqual([expect.any(RecordsConflictError)]);
      expect(seen[0]?.error.message).toMatch(/deleted/);
      expect(await store.list()).toEqual([]);
      expect(store.open<Rec>('d1').records).toEqual([]);
    });

    it('the read fence: a session written or rewritten by another persistence after this one read it refuses its next write (RecordsConflictError), as fs and pg do', async () => {
      for (const other of ['append', 'rewrite'] as const) {
        const store = new InMemoryAgentRecordStore();
        await write(store, 'f', 1_000, rec(1));
        const { seen, onError } = heard();
        const resumed = store.open<Rec>('f', { onError });
        expect(await all(resumed)).toEqual([rec(1)]);
        const another = store.open<Rec>('f');
        if (other === 'append') another.append(rec(50));
        else another.rewrite([rec(60)]);
        await another.close();
        const before = store.open<Rec>('f').records;
        resumed.append(rec(2));
        await expect(resumed.flush()).rejects.toBeInstanceOf(RecordsConflictError);
        await expect(resumed.close()).rejects.toBeInstanceOf(RecordsConflictError);
        expect(seen.map((r) => r.error)).toEqual([expect.any(RecordsConflictError)]);
        expect(seen[0]?.error.message).toMatch(/after this one read it/);
        expect(store.open<Rec>('f').records).toEqual(before);
      }
    });

    it('the read fence lets through what is not a divergence: a read of a log nobody wrote since, and a write after its own writes', async () => {
      const store = new InMemoryAgentRecordStore();
      await write(store, 'g', 1_000, rec(1));
      const resumed = store.open<Rec>('g');
      expect(await all(resumed)).toEqual([rec(1)]);
      const reader = store.open<Rec>('g');
      expect(await all(reader)).toEqual([rec(1)]); // another read changes nothing
      resumed.append(rec(2));
      await resumed.flush();
      expect(await all(resumed)).toEqual([rec(1), rec(2)]); // read while holding the session
      resumed.append(rec(3));
      await expect(resumed.close()).resolves.toBeUndefined();
      expect(store.open<Rec>('g').records).toEqual([rec(1), rec(2), rec(3)]);
    });
  });

  it('a session with only a title is listed (records 0, bytes 0), as fs and pg list it, and can be deleted', async () => {
    const store = new InMemoryAgentRecordStore();
    vi.setSystemTime(4_000);
    const titled = store.open<Rec>('e');
    titled.setTitle('only a title');
    await titled.close();
    expect(await store.list()).toEqual([
      { id: 'e', createdAt: 4_000, updatedAt: 4_000, records: 0, bytes: 0, title: 'only a title' },
    ]);
    expect(await store.delete('e')).toBe(true);
    expect(await store.list()).toEqual([]);
  });
});

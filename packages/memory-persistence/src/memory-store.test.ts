import { type AgentRecordEnvelope, RecordsInvalidSessionIdError } from '@agent-records/types';
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
});

import { describePersistenceContract } from '@agent-records/persistence-tests';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { InMemoryAgentRecordPersistence } from './memory-persistence.js';
import { InMemoryAgentRecordStore } from './memory-store.js';

// Through the store: every persistence opened on the session shares its log, generation,
// snapshot and title, as reopening a file does.
describePersistenceContract(
  'InMemoryAgentRecordPersistence',
  () => {
    const store = new InMemoryAgentRecordStore();
    return {
      open: (options) => store.open<Rec>('session', options),
      // Another persistence on the same log: it reads what was written, nothing pending.
      openReader: () => store.open<Rec>('session'),
      injectWriteFault(persistence, error) {
        const target = persistence as InMemoryAgentRecordPersistence;
        target.injectFault({ op: 'append', error, times: Number.POSITIVE_INFINITY });
        target.injectFault({ op: 'rewrite', error, times: Number.POSITIVE_INFINITY });
        return { clear: () => target.clearFaults() };
      },
    };
  },
  { expectCapabilities: ['readFrom', 'snapshots', 'title'] },
);

type Rec = AgentRecordEnvelope & { n?: number; text?: string };
const rec = (n: number): Rec => ({ type: 'test', n });

describe('InMemoryAgentRecordPersistence', () => {
  it('writes on a later microtask, not on the caller stack', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    persistence.append(rec(1));
    expect(persistence.records).toEqual([]);
    await Promise.resolve();
    expect(persistence.records).toEqual([rec(1)]);
  });

  it('starts from a copy of the given records', async () => {
    const first = rec(1);
    const persistence = new InMemoryAgentRecordPersistence<Rec>([first]);
    first.n = 99;
    persistence.append(rec(2));
    await persistence.flush();
    expect(persistence.records).toEqual([rec(1), rec(2)]);
  });

  it('calls onRecord with each written record', async () => {
    const seen: unknown[] = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      onRecord: (r) => seen.push(r),
    });
    persistence.append(rec(1));
    persistence.append(rec(2));
    await persistence.flush();
    expect(seen).toEqual([rec(1), rec(2)]);
  });

  it('injectFault on append: one report per episode, then a recovery', async () => {
    const reports: RecordsErrorInfo['kind'][] = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      onError: (_error, info) => reports.push(info.kind),
    });
    persistence.injectFault({ op: 'append', times: 2 });
    for (let i = 0; i < 10_000; i++) persistence.append(rec(i));
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    expect(persistence.failing).toBe(true);
    await persistence.flush();
    expect(persistence.failing).toBe(false);
    expect(reports).toEqual(['write-failed', 'write-recovered']);
    expect(persistence.records.map((r) => r.n)).toEqual(
      Array.from({ length: 10_000 }, (_, i) => i),
    );
  });

  it('injectFault on flush rejects that flush only', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], { onError: () => {} });
    const error = new Error('fsync failed');
    persistence.injectFault({ op: 'flush', error });
    persistence.append(rec(1));
    await expect(persistence.flush()).rejects.toMatchObject({ cause: error });
    await expect(persistence.flush()).resolves.toBeUndefined();
  });

  it('injectFault on read throws from the iterator', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([rec(1)]);
    const error = new Error('read failed');
    persistence.injectFault({ op: 'read', error });
    await expect(async () => {
      for await (const _ of persistence.read());
    }).rejects.toBe(error);
    const again: unknown[] = [];
    for await (const record of persistence.read()) again.push(record);
    expect(again).toEqual([rec(1)]);
  });

  it('refuses appends beyond maxPendingBytes with RecordsOverflowError', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      maxPendingBytes: 100,
      onError: () => {},
    });
    persistence.injectFault({ op: 'append', times: Number.POSITIVE_INFINITY });
    persistence.append({ type: 'x', text: 'a'.repeat(60) });
    expect(() => persistence.append({ type: 'x', text: 'b'.repeat(60) })).toThrow(
      RecordsOverflowError,
    );
    persistence.clearFaults();
    // The dropped record is reported once, by the next flush; the one queued before is written.
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsOverflowError);
    await persistence.flush();
    expect(persistence.records).toHaveLength(1);
  });

  it('one dropped burst rejects the next flush once, saying how many; later flushes resolve', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      maxPendingBytes: 100,
      onError: () => {},
    });
    persistence.injectFault({ op: 'append', times: Number.POSITIVE_INFINITY });
    persistence.append({ type: 'x', text: 'a'.repeat(60) });
    for (let i = 0; i < 81; i++) {
      expect(() => persistence.append({ type: 'x', text: 'b'.repeat(60) })).toThrow(
        RecordsOverflowError,
      );
    }
    persistence.clearFaults();
    await expect(persistence.flush()).rejects.toMatchObject({
      code: 'RECORDS_OVERFLOW',
      dropped: 81,
    });
    for (let i = 0; i < 81; i++) await expect(persistence.flush()).resolves.toBeUndefined();
    await expect(persistence.close()).resolves.toBeUndefined();
  });

  it('counts maxPendingBytes in UTF-8 bytes, not UTF-16 code units', () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      maxPendingBytes: 1000,
      onError: () => {},
    });
    persistence.injectFault({ op: 'append', times: Number.POSITIVE_INFINITY });
    // 400 characters of 'é' are 800 bytes: two such records are over 1000 bytes.
    persistence.append({ type: 'x', text: 'é'.repeat(400) });
    expect(() => persistence.append({ type: 'x', text: 'é'.repeat(400) })).toThrow(
      RecordsOverflowError,
    );
  });

  it('a rewrite does not count against maxPendingBytes', () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      maxPendingBytes: 100,
      onError: () => {},
    });
    persistence.injectFault({ op: 'rewrite', times: Number.POSITIVE_INFINITY });
    persistence.rewrite([{ type: 'metadata', text: 'm'.repeat(500) }]);
    expect(() => persistence.append({ type: 'x', text: 'a'.repeat(60) })).not.toThrow();
  });
});

describe('InMemoryAgentRecordPersistence everyday paths', () => {
  it('writes a record appended right after a flush without another flush', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    persistence.append(rec(1));
    await persistence.flush();
    persistence.append(rec(2));
    const deadline = Date.now() + 5000;
    while (persistence.records.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(persistence.records).toEqual([rec(1), rec(2)]);
  });

  it('an onError handler that throws does not escape from a background write', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
        onError: () => {
          throw new Error('handler bug');
        },
      });
      persistence.injectFault({ op: 'append' });
      persistence.append(rec(1)); // fails in the background: reported to the throwing handler
      await new Promise((resolve) => setTimeout(resolve, 0));
      await persistence.flush(); // the retry: reported as recovered, again to the handler
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(persistence.records).toEqual([rec(1)]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it('an onRecord callback that throws is reported and the rest is still written', async () => {
    const kinds: string[] = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      onRecord: (record) => {
        if (record.n === 1) throw new Error('callback bug');
      },
      onError: (_error, info) => kinds.push(info.kind),
    });
    persistence.append(rec(1));
    persistence.append(rec(2));
    await persistence.flush();
    expect(persistence.records).toEqual([rec(1), rec(2)]);
    expect(kinds).toEqual(['warning']);
  });

  it('a rewrite holding an unserialisable record is refused like on the file backend: the next flush rejects, the old log stays', async () => {
    const seen: Array<[string, string]> = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([rec(1)], {
      onError: (error, info) => seen.push([info.kind, error.constructor.name]),
    });
    const cyclic: Rec & { self?: unknown } = { type: 'loop' };
    cyclic.self = cyclic;
    persistence.append(rec(2));
    expect(() => persistence.rewrite([rec(9), cyclic])).not.toThrow();
    persistence.append(rec(3));
    const flushed = persistence.flush();
    await expect(flushed).rejects.toBeInstanceOf(RecordsWriteError);
    await expect(flushed).rejects.toMatchObject({ cause: { code: 'RECORDS_SERIALIZE' } });
    await expect(persistence.flush()).resolves.toBeUndefined();
    expect(persistence.records).toEqual([rec(1), rec(2), rec(3)]);
    expect(seen).toEqual([['record-refused', 'RecordsSerializeError']]);
  });
});

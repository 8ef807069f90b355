import { describePersistenceContract } from '@agent-records/persistence-tests';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { InMemoryAgentRecordPersistence } from './memory-persistence.js';

describePersistenceContract('InMemoryAgentRecordPersistence', () => {
  let log: AgentRecordEnvelope[] = [];
  let current: InMemoryAgentRecordPersistence | undefined;
  return {
    open(options) {
      // A new instance starts from what the previous one wrote, like reopening a file.
      log = current ? current.records : log;
      current = new InMemoryAgentRecordPersistence<Rec>(log, options);
      return current;
    },
    injectWriteFault(persistence, error) {
      const target = persistence as InMemoryAgentRecordPersistence;
      target.injectFault({ op: 'append', error, times: Number.POSITIVE_INFINITY });
      target.injectFault({ op: 'rewrite', error, times: Number.POSITIVE_INFINITY });
      return { clear: () => target.clearFaults() };
    },
  };
});

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
    await persistence.flush();
    expect(persistence.records).toHaveLength(1);
  });
});

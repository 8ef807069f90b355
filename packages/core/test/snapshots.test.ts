import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import {
  type AgentRecordPersistence,
  RecordsPositionError,
  RecordsReplayError,
  RecordsVersionError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import type { Migration } from '../src/migrations.js';
import { eventually, Host, type Rec, SnapshotSpy } from './snapshot-host.js';

function memory() {
  return new InMemoryAgentRecordPersistence<Rec>();
}

/** A host that logged `before` items, took a snapshot, then logged `after` more; flushed. */
async function snapshotted(persistence: AgentRecordPersistence<Rec>, before = 5, after = 3) {
  const writer = new Host(persistence);
  await writer.records.replay();
  for (let i = 0; i < before; i++) writer.add(`a${i}`);
  writer.records.snapshot();
  for (let i = 0; i < after; i++) writer.add(`b${i}`);
  await writer.records.flush();
  return writer;
}

/** What a host without snapshots rebuilds from the whole log. */
async function fullReplayOf(persistence: AgentRecordPersistence<Rec>) {
  const host = new Host(persistence, { snapshots: false });
  const result = await host.records.replay();
  return { host, result };
}

describe('replay from a snapshot', () => {
  it('restores the state, then only the records after it', async () => {
    const persistence = memory();
    const writer = await snapshotted(persistence);
    const snapshot = await persistence.readSnapshot();
    expect(snapshot?.records).toBe(6); // the metadata record and five items

    const reader = new Host(persistence);
    const result = await reader.records.replay();
    expect(reader.restoredStates).toBe(1);
    expect(reader.restoredRecords).toBe(3);
    expect(reader.state).toEqual(writer.state);
    const full = await fullReplayOf(persistence);
    expect(reader.state).toEqual(full.host.state);
    expect(result).toEqual({
      records: full.result.records,
      fromVersion: '1.1',
      migrated: false,
      fromSnapshot: { position: snapshot?.position, records: 6 },
    });
    expect(reader.warnings).toEqual([]);
  });

  it('counts records as a full replay does, observability records (kept, never restored) included', async () => {
    const persistence = memory();
    const writer = new Host(persistence);
    await writer.records.replay();
    writer.add('a');
    writer.records.logRecord({ type: 'llm.request', model: 'm' } as Rec);
    writer.records.snapshot();
    writer.records.logRecord({ type: 'llm.request', model: 'm' } as Rec);
    writer.add('b');
    await writer.records.flush();
    const reader = new Host(persistence);
    const result = await reader.records.replay();
    const full = await fullReplayOf(persistence);
    expect(result.fromSnapshot?.records).toBe(3); // metadata, a, llm.request
    expect(result.records).toBe(full.result.records); // metadata, a, b: 3 restored
    expect(result.records).toBe(3);
    expect(reader.restoredRecords).toBe(1);
  });

  it('counts records right after a resume, so the next snapshot covers the right ones', async () => {
    const persistence = memory();
    await snapshotted(persistence);
    const resumed = new Host(persistence);
    await resumed.records.replay();
    resumed.add('c0');
    resumed.records.snapshot();
    resumed.add('c1');
    await resumed.records.flush();
    expect((await persistence.readSnapshot())?.records).toBe(persistence.records.length - 1);

    const reader = new Host(persistence);
    await reader.records.replay();
    expect(reader.restoredRecords).toBe(1);
    expect(reader.state).toEqual((await fullReplayOf(persistence)).host.state);
  });

  it('ignores a snapshot of another state version, with a warning, and replays in full', async () => {
    const persistence = memory();
    await snapshotted(persistence);
    const reader = new Host(persistence, { snapshots: { version: 2 } });
    const result = await reader.records.replay();
    expect(reader.restoredStates).toBe(0);
    expect(reader.restoredRecords).toBe(persistence.records.length);
    expect(result.fromSnapshot).toBeUndefined();
    expect(result.warning).toMatch(/snapshot was ignored.*state is at version null.*is 2/);
    expect(reader.warnings).toEqual([expect.any(RecordsVersionError)]);
    expect(reader.state).toEqual((await fullReplayOf(persistence)).host.state);
  });

  it('ignores a snapshot taken at another protocol version, and the rewrite of the migrated log drops it', async () => {
    const persistence = memory();
    const writer = new Host(persistence, { protocolVersion: '1.0' });
    await writer.records.replay();
    writer.add('old');
    writer.records.snapshot();
    await writer.records.flush();
    expect(await persistence.readSnapshot()).not.toBeNull();

    const migrations: Migration<Rec>[] = [
      {
        sourceVersion: '1.0',
        targetVersion: '1.1',
        migrateRecord: (record) => ({ ...record, value: `${String(record.value)}@1.1` }),
      },
    ];
    const reader = new Host(persistence, { migrations });
    const result = await reader.records.replay();
    expect(result.warning).toMatch(/taken at protocol version 1.0, this code is at 1.1/);
    expect(result.migrated).toBe(true);
    expect(reader.restoredStates).toBe(0);
    expect(reader.state.items).toEqual(['old@1.1']);
    // The log was rewritten: the old snapshot is gone or no longer matches.
    const again = new Host(persistence, { migrations });
    const second = await again.records.replay();
    expect(again.restoredStates).toBe(0);
    expect(again.state).toEqual(reader.state);
    expect(second.migrated).toBe(false);
  });

  it('replays in full, never restoring the state, when the log no longer matches the snapshot (RecordsPositionError)', async () => {
    const spy = new SnapshotSpy(memory());
    await snapshotted(spy);
    // A rewrite (here: the same records again) changes the log's generation; the spy keeps the
    // old snapshot, as a crash between the rewrite and the snapshot's removal could.
    spy.stale = await spy.inner.readSnapshot();
    spy.rewrite(spy.inner.records.slice(0, 4));
    await spy.flush();

    const reader = new Host(spy);
    const result = await reader.records.replay();
    expect(reader.restoredStates).toBe(0);
    expect(reader.warnings).toEqual([expect.any(RecordsPositionError)]);
    expect(result.warning).toMatch(/does not match the log/);
    expect(result.fromSnapshot).toBeUndefined();
    expect(reader.state).toEqual({ items: ['a0', 'a1', 'a2'] });
  });

  it('replays in full, with a warning, when the snapshot cannot be read or parsed', async () => {
    const spy = new SnapshotSpy(memory());
    const writer = await snapshotted(spy);
    const good = await spy.inner.readSnapshot();
    if (!good) throw new Error('no snapshot was stored');
    spy.stale = { ...good, data: good.data.slice(0, -5) }; // torn
    const torn = new Host(spy);
    expect((await torn.records.replay()).warning).toMatch(/ignored.*not valid JSON/);
    expect(torn.restoredStates).toBe(0);
    expect(torn.state).toEqual(writer.state);

    const failing = new SnapshotSpy(spy.inner);
    failing.readSnapshot = async () => {
      throw new Error('EIO reading the snapshot');
    };
    const reader = new Host(failing);
    expect((await reader.records.replay()).warning).toMatch(/ignored.*EIO reading the snapshot/);
    expect(reader.restoredStates).toBe(0);
    expect(reader.state).toEqual(writer.state);
  });

  it('migrates and rewrites a tail appended at an older version after the snapshot', async () => {
    const persistence = memory();
    await snapshotted(persistence, 2, 1);
    // An older process appends to the log without replaying: a 1.0 segment after the snapshot.
    const old = new Host(persistence, { protocolVersion: '1.0', snapshots: false });
    old.add('from-1.0');
    await old.records.flush();

    const migrated: unknown[] = [];
    const migrations: Migration<Rec>[] = [
      {
        sourceVersion: '1.0',
        targetVersion: '1.1',
        migrateRecord: (record) => {
          migrated.push(record.value);
          return { ...record, value: `${String(record.value)}@1.1` };
        },
      },
    ];
    const reader = new Host(persistence, { migrations });
    const result = await reader.records.replay();
    expect(result.fromSnapshot?.records).toBe(3);
    expect(result.migrated).toBe(true);
    expect(reader.restoredStates).toBe(1);
    expect(reader.state.items).toEqual(['a0', 'a1', 'b0', 'from-1.0@1.1']);
    // Rewritten as one segment at 1.1, the snapshot's records kept as they were.
    expect(persistence.records.map((r) => r.value ?? r.protocol_version)).toEqual([
      '1.1',
      'a0',
      'a1',
      'b0',
      'from-1.0@1.1',
    ]);
    expect(migrated).toContain('from-1.0');
    const full = await fullReplayOf(persistence);
    expect(full.host.state.items).toEqual(reader.state.items);
    expect(full.result.migrated).toBe(false);
  });

  it('rejects with RecordsReplayError when snapshots.restore throws', async () => {
    const persistence = memory();
    await snapshotted(persistence);
    const reader = new Host(persistence, {
      snapshots: {
        restore: () => {
          throw new Error('bad state');
        },
      },
    });
    const error = await reader.records.replay().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordsReplayError);
    expect((error as RecordsReplayError).recordType).toBe('snapshot');
    expect((error as Error).message).toMatch(/bad state/);
  });
});

describe('taking snapshots', () => {
  it('a state that cannot be serialised (BigInt) is a warning; logRecord carries on', async () => {
    const persistence = memory();
    const host = new Host(persistence, { snapshots: { take: () => ({ n: 1n }) } });
    await host.records.replay();
    host.add('x');
    host.records.snapshot();
    host.add('y');
    await host.records.flush();
    expect(host.warnings.map((w) => w.message).join()).toMatch(/could not be serialised.*BigInt/);
    expect(await persistence.readSnapshot()).toBeNull();
    expect(persistence.records.map((r) => r.value).filter(Boolean)).toEqual(['x', 'y']);
  });

  it('take() throwing is a warning and no snapshot', async () => {
    const persistence = memory();
    const host = new Host(persistence, {
      snapshots: {
        take: () => {
          throw new Error('no state today');
        },
      },
    });
    await host.records.replay();
    host.add('x');
    expect(() => host.records.snapshot()).not.toThrow();
    host.add('y');
    await host.records.flush();
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/take\(\) threw \(no state today\)/),
    ]);
    expect(await persistence.readSnapshot()).toBeNull();
    expect(persistence.records).toHaveLength(3);
  });

  it('takes none when take() logs a record (which records the state reflects is unclear)', async () => {
    const spy = new SnapshotSpy(memory());
    const host: Host = new Host(spy, {
      snapshots: {
        everyRecords: 1,
        take: () => {
          host.records.logRecord({ type: 'item.add', value: 'from take' } as Rec);
          return structuredClone(host.state);
        },
      },
    });
    await host.records.replay();
    for (let i = 0; i < 4; i++) host.add(i);
    host.records.snapshot();
    await host.records.flush();
    expect(spy.written).toEqual([]);
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/take\(\) logged a record; no snapshot was taken/),
    ]);
  });

  it('snapshot() after close() is a warning, take() is not called', async () => {
    const host = new Host(memory());
    await host.records.replay();
    host.add(1);
    await host.records.close();
    host.records.snapshot();
    expect(host.takes).toBe(0);
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/snapshot\(\) after close\(\)/),
    ]);
  });

  it('takes one at the start of a logRecord once everyRecords records were logged since the last', async () => {
    const spy = new SnapshotSpy(memory());
    const host = new Host(spy, { snapshots: { everyRecords: 3 } });
    await host.records.replay();
    for (let i = 0; i < 7; i++) {
      host.add(i);
      await host.records.flush(); // each snapshot is made before the next is due
    }
    // Records: metadata, 0, 1 | 2, 3, 4 | 5, 6: taken before 2 and before 5.
    expect(spy.written.map((s) => s.records)).toEqual([3, 6]);
    expect((await spy.readSnapshot())?.records).toBe(6);
  });

  it('takes one once everyBytes of records were logged since the last', async () => {
    const spy = new SnapshotSpy(memory());
    const host = new Host(spy, { snapshots: { everyBytes: 1000 } });
    await host.records.replay();
    for (let i = 0; i < 6; i++) host.add('x'.repeat(400));
    await host.records.flush();
    // Each record counts a little over 400 bytes: due after the third (metadata + 3 records).
    expect(spy.written.map((s) => s.records)).toEqual([4]);
  });

  it('waits for a snapshot being serialised before starting the next automatic one', async () => {
    const spy = new SnapshotSpy(memory());
    const host = new Host(spy, { snapshots: { everyRecords: 1 } });
    await host.records.replay();
    for (let i = 0; i < 5; i++) host.add(i); // on one stack: the first is still being made
    await host.records.flush();
    expect(spy.written).toHaveLength(1);
    host.add('later');
    await host.records.flush();
    expect(spy.written).toHaveLength(2);
  });

  it('takes none while records wait in the core for a failed append to be retried', async () => {
    // Those records are not in the persistence yet: a snapshot there would name a position
    // before records its state already reflects.
    class FailingAppends extends SnapshotSpy {
      failing = false;
      override append(record: Rec) {
        if (this.failing) throw Object.assign(new Error('disk gone'), { code: 'EIO' });
        super.append(record);
      }
    }
    const spy = new FailingAppends(memory());
    const host = new Host(spy);
    await host.records.replay();
    host.add(1);
    spy.failing = true;
    host.add(2);
    host.add(3);
    host.records.snapshot();
    expect(spy.written).toEqual([]);
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/records wait for a failed write to be retried/),
    ]);
    spy.failing = false;
    await host.records.flush();
    host.records.snapshot();
    host.add(4);
    await host.records.flush();
    expect(spy.written.map((s) => s.records)).toEqual([4]);
    const reader = new Host(spy);
    await reader.records.replay();
    expect(reader.state.items).toEqual([1, 2, 3, 4]);
    expect(reader.restoredStates).toBe(1);
  });

  it('takes none before a replay established the log (its record count is unknown)', async () => {
    const persistence = memory();
    await snapshotted(persistence);
    const spy = new SnapshotSpy(persistence);
    const host = new Host(spy, { snapshots: { everyRecords: 1 } });
    host.add('no replay first');
    host.add('again');
    host.records.snapshot();
    host.records.snapshot();
    await host.records.flush();
    expect(host.takes).toBe(0);
    expect(spy.written).toEqual([]);
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/state is unknown \(call replay\(\) before logging/),
    ]);
  });

  it('a persistence without the capabilities replays in full and never takes one', async () => {
    const inner = memory();
    const plain: AgentRecordPersistence<Rec> = {
      read: () => inner.read(),
      append: (record) => inner.append(record),
      rewrite: (records) => inner.rewrite(records),
      flush: () => inner.flush(),
      close: () => inner.close(),
    };
    const writer = new Host(plain, { snapshots: { everyRecords: 1 } });
    await writer.records.replay();
    for (let i = 0; i < 4; i++) writer.add(i);
    writer.records.snapshot();
    writer.records.snapshot();
    await writer.records.flush();
    expect(writer.takes).toBe(0);
    expect(writer.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/cannot keep snapshots/),
    ]);
    const reader = new Host(plain);
    const result = await reader.records.replay();
    expect(result.fromSnapshot).toBeUndefined();
    expect(reader.restoredRecords).toBe(5);
    expect(reader.state).toEqual(writer.state);
  });

  it('a legacy persistence (async append, no rewrite) replays in full', async () => {
    const stored: Rec[] = [];
    const legacy = {
      async append(record: Rec) {
        stored.push(record);
      },
      read: () => stored,
    };
    const writer = new Host(legacy, { snapshots: { everyRecords: 1 } });
    await writer.records.replay();
    writer.add(1);
    writer.add(2);
    await writer.records.flush();
    expect(writer.takes).toBe(0);
    const reader = new Host(legacy);
    expect(await reader.records.replay()).toEqual({
      records: 3,
      fromVersion: '1.1',
      migrated: false,
    });
  });
});

describe('setTitle', () => {
  it('hands the title to the persistence', async () => {
    const persistence = memory();
    const host = new Host(persistence);
    host.records.setTitle('Fix the flaky test');
    await host.records.flush();
    expect(persistence.title).toBe('Fix the flaky test');
    expect(host.warnings).toEqual([]);
  });

  it('never throws: without the capability one warning, a refusal a warning', async () => {
    const stored: Rec[] = [];
    const host = new Host({ append: async (r: Rec) => void stored.push(r), read: () => stored });
    host.records.setTitle('a');
    host.records.setTitle('b');
    expect(host.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/cannot keep a title/),
    ]);
    const persistence = memory();
    const closed = new Host(persistence);
    await closed.records.close();
    expect(() => closed.records.setTitle('late')).not.toThrow();
    expect(closed.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/setTitle\(\) failed/),
    ]);
  });
});

describe('a snapshot reaches the store in the background', () => {
  it('is stored without anyone calling flush()', async () => {
    const persistence = memory();
    const host = new Host(persistence);
    await host.records.replay();
    host.add(1);
    host.records.snapshot();
    await eventually(
      async () => (await persistence.readSnapshot()) !== null,
      'the snapshot to be stored',
    );
    expect(persistence.records).toHaveLength(2);
    expect((await persistence.readSnapshot())?.records).toBe(2);
  });
});

import { AgentRecords } from '@agent-records/core';
import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, generationOf, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordStore } from './store.js';

// A host through the core: snapshot, title, resume from the snapshot and its tail only.
type Rec = AgentRecordEnvelope & { n?: number };
const schema = schemaName();
const pool = newPool({ max: 6 });
const store = new PostgresAgentRecordStore({ pool, schema });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

/** A host whose state is the sum of the `n` it has seen, and which records it restored. */
function host(id: string, reports: string[]) {
  const state = { sum: 0 };
  const restored: number[] = [];
  const records = new AgentRecords<Rec>({
    persistence: store.open<Rec>(id),
    protocolVersion: '1.0',
    restore: (record) => {
      if (typeof record.n === 'number') {
        state.sum += record.n;
        restored.push(record.n);
      }
    },
    snapshots: {
      take: () => ({ sum: state.sum }),
      restore: (saved) => {
        state.sum = (saved as { sum: number }).sum;
      },
      version: 1,
      everyRecords: 1_000_000,
    },
    onError: (error: Error, info: RecordsErrorInfo) =>
      reports.push(`${info.kind}: ${error.message}`),
  });
  /** The host's own work: its state moves, then the record is logged. */
  const log = (n: number) => {
    state.sum += n;
    records.logRecord({ type: 'turn.prompt', n });
  };
  return { records, state, restored, log };
}

describe.skipIf(!available)('resume through the core', () => {
  it('replays from the snapshot and only the records after it; list() shows the title; a rewrite makes it replay in full', async () => {
    await store.ensureSchema();
    const reports: string[] = [];
    const first = host('resumed', reports);
    await first.records.replay();
    for (let n = 1; n <= 20; n++) first.log(n);
    first.records.snapshot();
    for (let n = 21; n <= 25; n++) first.log(n);
    first.records.setTitle('Resume me');
    await first.records.close();
    expect(first.state.sum).toBe(325);

    const second = host('resumed', reports);
    const result = await second.records.replay();
    // metadata + 20 records before the snapshot; the 5 after it are all that is restored.
    const generation = await generationOf(pool, schema, 'resumed');
    expect(result.fromSnapshot).toEqual({ position: { seq: 21, generation }, records: 21 });
    expect(result.records).toBe(26);
    expect(second.restored).toEqual([21, 22, 23, 24, 25]);
    expect(second.state.sum).toBe(325);
    await second.records.close();
    expect((await store.list()).find((s) => s.id === 'resumed')).toMatchObject({
      title: 'Resume me',
      records: 26,
    });

    // The log replaced (as a compaction or a repair would): the snapshot is gone with it.
    const persistence = store.open<Rec>('resumed');
    const all: Rec[] = [];
    for await (const record of persistence.read()) all.push(record);
    persistence.rewrite(all.filter((record) => record.n === undefined || record.n > 10));
    await persistence.close();
    const third = host('resumed', reports);
    const full = await third.records.replay();
    expect(full.fromSnapshot).toBeUndefined();
    expect(third.restored).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(third.state.sum).toBe(270);
    await third.records.close();
    expect(reports.filter((r) => !r.startsWith('warning: ') || /snapshot/i.test(r))).toEqual([]);
  });
});

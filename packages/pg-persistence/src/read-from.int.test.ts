import {
  type AgentRecordEnvelope,
  type RecordsBatch,
  type RecordsPosition,
  RecordsPositionError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, generationOf, newPool, schemaName } from '../test/database.js';
import { pausingPool } from '../test/pausing-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { PostgresAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });
const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => rec(from + i));
const schema = schemaName();
const pool = newPool({ max: 6 });
const store = new PostgresAgentRecordStore({ pool, schema });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

const open = (id: string) => new PostgresAgentRecordPersistence<Rec>(id, { pool, schema });

async function batchesFrom(
  persistence: PostgresAgentRecordPersistence<Rec>,
  position: RecordsPosition | null,
): Promise<RecordsBatch<Rec>[]> {
  const out: RecordsBatch<Rec>[] = [];
  for await (const batch of persistence.readFrom(position)) out.push(batch);
  return out;
}
const recordsOf = (batches: RecordsBatch<Rec>[]) => batches.flatMap((batch) => batch.records);

/** The first `next()` of readFrom(position): its rejection, or null when it did not reject. */
async function positionError(
  persistence: PostgresAgentRecordPersistence<Rec>,
  position: RecordsPosition,
): Promise<RecordsPositionError | null> {
  try {
    await persistence.readFrom(position)[Symbol.asyncIterator]().next();
    return null;
  } catch (error) {
    if (error instanceof RecordsPositionError) return error;
    throw error;
  }
}

describe.skipIf(!available)('readFrom', () => {
  it('yields the committed rows after a position in pages of 1000, each ending at its last seq', async () => {
    await store.ensureSchema();
    const writer = open('pages');
    for (const record of range(0, 2500)) writer.append(record);
    await writer.close();
    const generation = (await generationOf(pool, schema, 'pages')) as number;

    const reader = open('pages');
    const all = await batchesFrom(reader, null);
    expect(all.map((batch) => batch.end)).toEqual([
      { seq: 1000, generation },
      { seq: 2000, generation },
      { seq: 2500, generation },
    ]);
    expect(recordsOf(all)).toEqual(range(0, 2500));

    // From the end of a batch: the rows after it, nothing twice.
    const tail = await batchesFrom(reader, all[1]?.end as RecordsPosition);
    expect(tail).toEqual([{ records: range(2000, 2500), end: { seq: 2500, generation } }]);
    // From the head: nothing durable is left.
    expect(await batchesFrom(reader, { seq: 2500, generation })).toEqual([]);
    await reader.close();
  });

  it('yields what this writer has not committed yet last, in one batch whose end is null', async () => {
    const { pool: pausing, pauseNext } = pausingPool();
    const persistence = new PostgresAgentRecordPersistence<Rec>('pending', {
      pool: pausing,
      schema,
    });
    persistence.append(rec(0));
    persistence.append(rec(1));
    await persistence.flush();
    const generation = (await generationOf(pool, schema, 'pending')) as number;
    // The next batch is held before it is sent (its transaction's BEGIN, or its one statement):
    // its records are in flight, not committed.
    const { paused, release } = pauseNext((text) => /^(BEGIN$|BEGIN; COPY|WITH fence)/.test(text));
    for (const record of range(2, 1500)) persistence.append(record);
    await paused;
    const batches = await batchesFrom(persistence, { seq: 1, generation });
    expect(batches).toEqual([
      { records: [rec(1)], end: { seq: 2, generation } },
      { records: range(2, 1500), end: null },
    ]);
    release();
    await persistence.close();
    expect(await batchesFrom(open('pending'), { seq: 1, generation })).toEqual([
      { records: range(1, 1001), end: { seq: 1001, generation } },
      { records: range(1001, 1500), end: { seq: 1500, generation } },
    ]);
    await pausing.end();
  });

  it('after a rewrite, a position of the old log is refused saying it was rewritten; the new one reads', async () => {
    const persistence = open('rewritten');
    for (const record of range(0, 10)) persistence.append(record);
    await persistence.flush();
    const old = (await generationOf(pool, schema, 'rewritten')) as number;
    const before = await batchesFrom(persistence, null);
    expect(before.at(-1)?.end).toEqual({ seq: 10, generation: old });

    persistence.rewrite(range(100, 103));
    // Queued, not written: the old positions are of the log it replaces.
    const queued = await positionError(persistence, { seq: 3, generation: old });
    expect(queued?.message).toMatch(/rewrite is queued/);
    // From the start: the rewrite's records, not durable yet.
    expect(await batchesFrom(persistence, null)).toEqual([{ records: range(100, 103), end: null }]);
    await persistence.flush();
    // The rewrite took a new generation from the sequence: never one used before.
    const generation = (await generationOf(pool, schema, 'rewritten')) as number;
    expect(generation).toBeGreaterThan(old);

    const error = await positionError(persistence, { seq: 3, generation: old });
    expect(error).toBeInstanceOf(RecordsPositionError);
    expect(error?.code).toBe('RECORDS_POSITION');
    expect(error?.message).toMatch(
      new RegExp(`generation ${old} of session rewritten, which has been rewritten`),
    );
    expect(error?.message).toMatch(/Read from the start/);
    persistence.append(rec(103));
    await persistence.flush();
    expect(await batchesFrom(persistence, { seq: 1, generation })).toEqual([
      { records: range(101, 104), end: { seq: 4, generation } },
    ]);
    // Another reader (a new process) sees the same.
    const other = open('rewritten');
    expect(recordsOf(await batchesFrom(other, { seq: 2, generation }))).toEqual(range(102, 104));
    await other.close();
    await persistence.close();
  });

  it('refuses a position beyond the end of the log (truncated, or deleted and written again) and one that is not a PostgreSQL position', async () => {
    const persistence = open('short');
    for (const record of range(0, 5)) persistence.append(record);
    await persistence.close();
    const generation = (await generationOf(pool, schema, 'short')) as number;
    const reader = open('short');
    expect((await positionError(reader, { seq: 6, generation }))?.message).toMatch(
      /beyond the end of session short \(5 records\)/,
    );
    expect((await positionError(reader, { offset: 12, fingerprint: 'ab' }))?.message).toMatch(
      /not a position in PostgreSQL session short/,
    );
    expect((await positionError(reader, { seq: -1, generation }))?.message).toMatch(
      /integers >= 0/,
    );
    // Deleted: no log to read from.
    expect(await store.delete('short')).toBe(true);
    expect((await positionError(reader, { seq: 5, generation }))?.message).toMatch(
      /does not have: none is stored \(it was deleted/,
    );
    // Written again with a shorter log, and again with as many records: a new generation each
    // time, so the old position matches neither (before schema 3 it matched the second).
    const shorter = open('short');
    shorter.append(rec(50));
    await shorter.close();
    expect((await positionError(reader, { seq: 5, generation }))?.message).toMatch(
      /has been rewritten, or deleted and written again/,
    );
    expect(await store.delete('short')).toBe(true);
    const asMany = open('short');
    for (const record of range(60, 66)) asMany.append(record);
    await asMany.close();
    const recreated = (await generationOf(pool, schema, 'short')) as number;
    expect(recreated).not.toBe(generation);
    const error = await positionError(reader, { seq: 5, generation });
    expect(error).toBeInstanceOf(RecordsPositionError);
    expect(error?.message).toMatch(
      new RegExp(
        `generation ${generation} of session short, which has been rewritten, or deleted and written again`,
      ),
    );
    // The connections refused positions held went back to the pool usable; a new reader of
    // the new log reads from its own position.
    const fresh = open('short');
    expect(recordsOf(await batchesFrom(fresh, { seq: 5, generation: recreated }))).toEqual([
      rec(65),
    ]);
    await fresh.close();
    await reader.close();
  });

  it('a replay through readFrom fences the writer like read(): the next write expects that log', async () => {
    const first = open('fenced');
    first.append(rec(0));
    await first.close();
    const reports: string[] = [];
    const reader = new PostgresAgentRecordPersistence<Rec>('fenced', {
      pool,
      schema,
      onError: (error) => reports.push(error.name),
    });
    expect(recordsOf(await batchesFrom(reader, null))).toEqual([rec(0)]);
    const other = open('fenced');
    other.append(rec(1));
    await other.close();
    reader.append(rec(2));
    await expect(reader.flush()).rejects.toMatchObject({ code: 'RECORDS_CONFLICT' });
    expect(reports).toEqual(['RecordsConflictError']);
    await reader.close().catch(() => {});
  });
});

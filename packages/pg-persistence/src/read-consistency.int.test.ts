import { randomUUID } from 'node:crypto';
import type { AgentRecordEnvelope } from '@agent-records/types';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, schemaName } from '../test/database.js';
import { pausingPool } from '../test/pausing-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { BEGIN_SNAPSHOT_READ } from './sql.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });
const schemas: string[] = [];
const pools: pg.Pool[] = [];
afterAll(async () => {
  for (const pool of pools) await pool.end();
  if (available) for (const schema of schemas) await dropSchema(schema);
});

/** A pool whose next read transaction can be held at its BEGIN (see `pausingPool`). */
function pausingReads() {
  const { pool, pauseNext } = pausingPool();
  pools.push(pool);
  return { pool, pauseNextRead: () => pauseNext((text) => text === BEGIN_SNAPSHOT_READ) };
}

async function readAll(persistence: PostgresAgentRecordPersistence<Rec>): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const record of persistence.read()) out.push(record);
  return out;
}

describe.skipIf(!available)('read() is one consistent view', () => {
  it('yields a record once when its batch commits while read() is starting', async () => {
    const schema = schemaName();
    schemas.push(schema);
    const { pool, pauseNextRead } = pausingReads();
    const persistence = new PostgresAgentRecordPersistence<Rec>(`dup-${randomUUID()}`, {
      pool,
      schema,
    });
    const { paused, release } = pauseNextRead();
    persistence.append(rec(0));
    // read() sees the record queued (the writer has not even learned the head yet) ...
    const reading = readAll(persistence);
    await paused;
    // ... and its batch commits before read()'s snapshot of the table is taken.
    await persistence.flush();
    release();
    expect(await reading).toEqual([rec(0)]);
    await persistence.close();
  });

  it('yields the whole of a longer rewrite that commits while read() is starting, not its rows up to the old head', async () => {
    const schema = schemaName();
    schemas.push(schema);
    const { pool, pauseNextRead } = pausingReads();
    const persistence = new PostgresAgentRecordPersistence<Rec>(`rewrite-${randomUUID()}`, {
      pool,
      schema,
    });
    persistence.append(rec(1));
    persistence.append(rec(2));
    await persistence.flush();
    const { paused, release } = pauseNextRead();
    const reading = readAll(persistence);
    await paused;
    persistence.rewrite([rec(10), rec(11), rec(12)]);
    await persistence.flush();
    release();
    // Either whole log is one consistent view; a mix (the new rows cut at the old head) is not.
    const seen = (await reading).map((r) => r.n);
    expect([
      [1, 2],
      [10, 11, 12],
    ]).toContainEqual(seen);
    expect((await readAll(persistence)).map((r) => r.n)).toEqual([10, 11, 12]);
    await persistence.close();
  });
});

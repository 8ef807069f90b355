import { randomUUID } from 'node:crypto';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, generationOf, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };
const schema = schemaName();
// One connection: whatever a reader leaves on it, the next user of the pool gets.
const pool = newPool({ max: 1 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

describe.skipIf(!available)('read()', () => {
  it('a read() stopped early ends its snapshot transaction before its connection goes back to the pool', async () => {
    const persistence = new PostgresAgentRecordPersistence<Rec>(`early-stop-${randomUUID()}`, {
      pool,
      schema,
    });
    for (let n = 0; n < 2500; n++) persistence.append({ type: 'test', n });
    await persistence.flush();
    for await (const record of persistence.read()) {
      expect(record.n).toBe(0);
      break;
    }
    const { rows } = await pool.query<{ transaction_isolation: string }>(
      'SHOW transaction_isolation',
    );
    expect(rows[0]?.transaction_isolation).toBe('read committed');
    // The writer gets that connection next: its transaction is its own, not a read-only leftover.
    persistence.append({ type: 'test', n: 2500 });
    await persistence.close();
    const count = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".agent_records WHERE session_id = $1`,
      [persistence.sessionId],
    );
    expect(count.rows[0].n).toBe(2501);
  });

  it('reads a log of several queries (5000 rows each) in order, in batches of 1000; one stopped while the next rows are on their way leaves a clean connection', async () => {
    const persistence = new PostgresAgentRecordPersistence<Rec>(`many-${randomUUID()}`, {
      pool,
      schema,
    });
    const total = 12_345;
    for (let n = 0; n < total; n++) persistence.append({ type: 'test', n });
    await persistence.flush();
    const sizes: number[] = [];
    const numbers: number[] = [];
    for await (const batch of persistence.readBatches()) {
      sizes.push(batch.length);
      for (const record of batch) numbers.push(record.n);
    }
    expect(sizes).toEqual([...Array(12).fill(1000), 345]);
    expect(numbers).toEqual(Array.from({ length: total }, (_, n) => n));
    const generation = await generationOf(pool, schema, persistence.sessionId);
    const ends: Array<unknown> = [];
    for await (const batch of persistence.readFrom({
      seq: 4999,
      generation: generation as number,
    })) {
      ends.push(batch.end);
    }
    expect(ends[0]).toEqual({ seq: 5999, generation });
    expect(ends.at(-1)).toEqual({ seq: total, generation });
    // Stopped after the first batch: the query for rows 5001.. was already sent.
    for await (const batch of persistence.readBatches()) {
      expect(batch.length).toBe(1000);
      break;
    }
    const { rows } = await pool.query<{ transaction_isolation: string }>(
      'SHOW transaction_isolation',
    );
    expect(rows[0]?.transaction_isolation).toBe('read committed');
    persistence.append({ type: 'test', n: total });
    await persistence.close();
    const count = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".agent_records WHERE session_id = $1`,
      [persistence.sessionId],
    );
    expect(count.rows[0].n).toBe(total + 1);
  });
});

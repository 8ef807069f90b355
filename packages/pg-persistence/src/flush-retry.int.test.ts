import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { pausingPool } from '../test/pausing-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema } from './schema.js';
import { ROLLBACK } from './sql.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });
const schema = schemaName();
const admin = newPool({ max: 2 });
const { pool, pauseNext } = pausingPool();
afterAll(async () => {
  await pool.end();
  await admin.end();
  if (available) await dropSchema(schema);
});

/**
 * A write fault the test switches off without touching the records table's locks (dropping a
 * constraint would wait for the failed transaction): a trigger that fails every insert, with an
 * I/O error's SQLSTATE, while the switch row says so.
 */
async function faultSwitch(): Promise<{ clear(): Promise<void> }> {
  await ensureSchema(admin, { schema, table: 'agent_records' });
  const q = `"${schema}"`;
  await admin.query(`CREATE TABLE ${q}.fault_switch (fail boolean NOT NULL)`);
  await admin.query(`INSERT INTO ${q}.fault_switch VALUES (true)`);
  await admin.query(`CREATE FUNCTION ${q}.refuse_while_switched() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT fail FROM ${q}.fault_switch) THEN
          RAISE EXCEPTION 'injected write fault' USING ERRCODE = '58030';
        END IF;
        RETURN NEW;
      END $$`);
  await admin.query(`CREATE TRIGGER refuse_while_switched BEFORE INSERT ON ${q}.agent_records
      FOR EACH ROW EXECUTE FUNCTION ${q}.refuse_while_switched()`);
  return {
    clear: async () => {
      await admin.query(`UPDATE ${q}.fault_switch SET fail = false`);
    },
  };
}

async function readAll(persistence: PostgresAgentRecordPersistence<Rec>): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const record of persistence.read()) out.push(record);
  return out;
}

describe.skipIf(!available)('flush() is the retry', () => {
  it('a flush() called after the fault cleared, while a write begun under it is failing, retries and resolves', async () => {
    const fault = await faultSwitch();
    const reports: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>('flush-retry', {
      pool,
      schema,
      onError: (_error, info: RecordsErrorInfo) => reports.push(info.kind),
    });
    // The writer's insert fails under the fault; it is held before it rolls back and reports.
    const { paused, release } = pauseNext((text) => text === ROLLBACK);
    persistence.append(rec(1));
    await paused;
    await fault.clear();
    // Called after the fault is gone: this flush must retry, not answer with the failure of
    // the attempt that began before it.
    const flushing = persistence.flush();
    release();
    await expect(flushing).resolves.toBeUndefined();
    expect(await readAll(persistence)).toEqual([rec(1)]);
    expect(reports).toEqual(['write-failed', 'write-recovered']);
    await persistence.close();
  });
});

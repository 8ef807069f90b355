import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName, waitFor } from '../test/database.js';
import { recordingPool } from '../test/recording-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

// What a persistence's first write waits for before its rows go: the tables' version (one read
// when they are current) and the session's head (made and read in one statement).
type Rec = AgentRecordEnvelope & { n: number };
const schema = schemaName();
const pool = newPool({ max: 4 });
const recording = recordingPool();
afterAll(async () => {
  await pool.end();
  await recording.pool.end();
  if (available) await dropSchema(schema);
});

async function storedNumbers(sessionId: string): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((row) => row.n);
}

/** The tables, made by a write of their own. */
async function makeTables(): Promise<void> {
  const setup = new PostgresAgentRecordPersistence<Rec>('setup', { pool, schema });
  setup.append({ type: 'test', n: 0 });
  await setup.close();
}

describe.skipIf(!available)('the first write', () => {
  it('on current tables reads their version and makes and reads the head in one statement each, then writes', async () => {
    await makeTables();
    recording.statements.length = 0;
    const persistence = new PostgresAgentRecordPersistence<Rec>('first', {
      pool: recording.pool,
      schema,
    });
    persistence.append({ type: 'test', n: 1 });
    await persistence.close();
    expect(recording.statements.filter((s) => s.startsWith('> '))).toEqual([
      '> SELECT value FROM',
      '> WITH made AS',
      '> WITH fence AS',
    ]);
    expect(await storedNumbers('first')).toEqual([1]);
  });

  it('learns the head of a sessions row that another transaction makes while its own statement makes it', async () => {
    await makeTables();
    const reports: string[] = [];
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO "${schema}".agent_records_sessions (session_id) VALUES ('raced')`,
      );
      const persistence = new PostgresAgentRecordPersistence<Rec>('raced', {
        pool,
        schema,
        onError: (error) => reports.push(error.message),
      });
      persistence.append({ type: 'test', n: 1 });
      const flushed = persistence.flush();
      // Its statement began before the row is committed (it waits for the row's lock), so its
      // snapshot cannot see the row that stops its own insert.
      await waitFor('the head statement to wait for the uncommitted row', async () => {
        const { rows } = await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH made AS%'`,
        );
        return rows.length > 0;
      });
      await other.query('COMMIT');
      await flushed;
      await persistence.close();
    } finally {
      other.release();
    }
    expect(reports).toEqual([]); // no failed write, retried
    expect(await storedNumbers('raced')).toEqual([1]);
  });
});

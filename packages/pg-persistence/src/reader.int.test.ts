import { randomUUID } from 'node:crypto';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
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
});

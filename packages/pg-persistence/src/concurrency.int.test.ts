import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & { n: number; writer: number };
const schema = schemaName();
afterAll(async () => {
  if (available) await dropSchema(schema);
});

describe.skipIf(!available)('many sessions, many writers', () => {
  it('100 sessions written concurrently by 8 writers: nothing lost, nothing duplicated, all in order', async () => {
    const SESSIONS = 100;
    const WRITERS = 8;
    const RECORDS = 300;
    const pools = Array.from({ length: WRITERS }, () => newPool({ max: 3 }));
    try {
      const stores = pools.map((pool) => new PostgresAgentRecordStore({ pool, schema }));
      await Promise.all(stores.map((store) => store.ensureSchema()));
      await Promise.all(
        stores.map(async (store, writer) => {
          const sessions = Array.from({ length: SESSIONS }, (_, i) => i).filter(
            (i) => i % WRITERS === writer,
          );
          const open = sessions.map(
            (i) => store.open(`session-${i}`) as ReturnType<typeof store.open>,
          );
          // Interleave the sessions: every session gets a slice, then all flush together.
          for (let start = 0; start < RECORDS; start += 25) {
            for (const persistence of open) {
              for (let n = start; n < start + 25; n++)
                persistence.append({ type: 'test', n, writer } as Rec);
            }
            await Promise.all(open.map((persistence) => persistence.flush()));
          }
          await Promise.all(open.map((persistence) => persistence.close()));
        }),
      );
      const [first] = pools as [ReturnType<typeof newPool>];
      const { rows } = await first.query(
        `SELECT session_id, count(*)::int AS rows, min(seq)::int AS first, max(seq)::int AS last,
                bool_and((record->>'n')::int = seq - 1) AS ordered
         FROM "${schema}".agent_records GROUP BY session_id ORDER BY session_id`,
      );
      expect(rows).toHaveLength(SESSIONS);
      for (const row of rows)
        expect(row).toMatchObject({ rows: RECORDS, first: 1, last: RECORDS, ordered: true });
      const listed = await new PostgresAgentRecordStore({ pool: first, schema }).list();
      expect(listed.every((s) => s.records === RECORDS)).toBe(true);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  }, 120_000);
});

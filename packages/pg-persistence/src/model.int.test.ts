import { randomUUID } from 'node:crypto';
import { describePersistenceModel } from '@agent-records/persistence-tests';
import { afterAll, describe } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema } from './schema.js';

// database.ts throws when PostgreSQL is unreachable under CI=true, so CI never skips this.
const schema = schemaName();
const pool = newPool({ max: 8 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

describe.skipIf(!available)('PostgresAgentRecordPersistence (model)', () => {
  describePersistenceModel(
    'PostgresAgentRecordPersistence',
    () => {
      const sessionId = `model-${randomUUID()}`;
      return {
        open: (options) =>
          new PostgresAgentRecordPersistence(sessionId, {
            pool,
            schema,
            onError: options?.onError ?? (() => {}),
          }),
        openReader: () => new PostgresAgentRecordPersistence(sessionId, { pool, schema }),
        // A real server-side fault: a CHECK constraint that refuses this session's rows.
        injectWriteFault: async () => {
          const constraint = `fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
          await ensureSchema(pool, { schema, table: 'agent_records' });
          await pool.query(
            `ALTER TABLE "${schema}".agent_records ADD CONSTRAINT ${constraint} CHECK (session_id <> '${sessionId}') NOT VALID`,
          );
          return {
            clear: async () => {
              await pool.query(
                `ALTER TABLE "${schema}".agent_records DROP CONSTRAINT IF EXISTS ${constraint}`,
              );
            },
          };
        },
      };
    },
    // jsonb cannot hold unpaired surrogates, and timestamptz has a narrower range than a double.
    {
      runs: 40,
      refuses: { loneSurrogates: true, timeOutOfRange: true },
      expectCapabilities: ['readFrom', 'snapshots', 'title'],
    },
  );
});

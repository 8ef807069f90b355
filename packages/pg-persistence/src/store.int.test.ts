import { randomUUID } from 'node:crypto';
import { describeStoreContract } from '@agent-records/persistence-tests';
import { afterAll, describe } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordStore } from './store.js';

// The store suite of persistence-tests: list/delete/summaries against its model. Each store is
// a table set of its own in one schema (an empty store per test and per model sequence).
const schema = schemaName();
const pool = newPool({ max: 8 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

describe.skipIf(!available)('PostgresAgentRecordStore (store suite)', () => {
  describeStoreContract(
    'PostgresAgentRecordStore',
    () => {
      const table = `s_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      return {
        store: new PostgresAgentRecordStore({ pool, schema, table }),
        cleanup: async () => {
          for (const suffix of ['', '_sessions', '_snapshots', '_meta'])
            await pool.query(`DROP TABLE IF EXISTS "${schema}"."${table}${suffix}"`);
        },
      };
    },
    { expectCapabilities: ['readFrom', 'snapshots', 'title'], singleWriter: true },
  );
});

import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema, SCHEMA_VERSION } from './schema.js';
import { PostgresAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & { n: number };
const schema = schemaName();
const pool = newPool({ max: 4 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

/**
 * A database as version 1 of this package left it, written here literally (not through today's
 * code): its tables, two sessions of rows, times with microseconds.
 */
async function versionOneDatabase(): Promise<void> {
  const q = `"${schema}"`;
  await pool.query(`CREATE SCHEMA ${q}`);
  await pool.query(
    `CREATE TABLE ${q}.agent_records_meta (key text PRIMARY KEY, value text NOT NULL)`,
  );
  await pool.query(`CREATE TABLE ${q}.agent_records (
      session_id text NOT NULL, seq bigint NOT NULL, record jsonb NOT NULL, record_json text,
      time timestamptz, PRIMARY KEY (session_id, seq))`);
  await pool.query(`CREATE TABLE ${q}.agent_records_sessions (
      session_id text PRIMARY KEY, head_seq bigint NOT NULL DEFAULT 0,
      generation bigint NOT NULL DEFAULT 0, last_batch text,
      created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(
    `INSERT INTO ${q}.agent_records_meta (key, value) VALUES ('schema_version', '1')`,
  );
  await pool.query(`INSERT INTO ${q}.agent_records_sessions VALUES
      ('old-a', 2, 0, 'w:1', '2025-01-01T00:00:00.000100Z', '2025-01-02T00:00:00.123456Z'),
      ('old-b', 1, 3, 'w:2', '2025-01-01T00:00:00Z', '2025-01-03T00:00:00.5Z')`);
  await pool.query(`INSERT INTO ${q}.agent_records (session_id, seq, record, record_json) VALUES
      ('old-a', 1, '{"n": 1, "type": "t"}', NULL),
      ('old-a', 2, '{"n": 2, "type": "t"}', NULL),
      ('old-b', 1, '{"n": 0, "type": "t\\ufffd"}', '{"type":"t\\u0000","n":0}')`);
}

describe.skipIf(!available)('ensureSchema upgrades a version 1 database', () => {
  it('adds the summary columns (bytes counted from the rows), the activity index and the snapshots table; the sessions read and write on', async () => {
    expect(SCHEMA_VERSION).toBe(2);
    await versionOneDatabase();
    await ensureSchema(pool, { schema, table: 'agent_records' });
    const version = await pool.query(
      `SELECT value FROM "${schema}".agent_records_meta WHERE key = 'schema_version'`,
    );
    expect(version.rows).toEqual([{ value: '2' }]);

    const store = new PostgresAgentRecordStore({ pool, schema });
    const listed = await store.list();
    // jsonb's own text for old rows (record_json where it was kept), one newline each.
    const aBytes =
      Buffer.byteLength('{"n": 1, "type": "t"}') + Buffer.byteLength('{"n": 2, "type": "t"}') + 2;
    const bBytes = Buffer.byteLength('{"type":"t\\u0000","n":0}') + 1;
    expect(listed).toEqual([
      {
        id: 'old-b',
        createdAt: Date.parse('2025-01-01T00:00:00Z'),
        updatedAt: Date.parse('2025-01-03T00:00:00.5Z'),
        modifiedAt: Date.parse('2025-01-03T00:00:00.5Z'),
        records: 1,
        bytes: bBytes,
        generation: 3,
      },
      {
        id: 'old-a',
        createdAt: Date.parse('2025-01-01T00:00:00.000Z'),
        updatedAt: Date.parse('2025-01-02T00:00:00.123Z'),
        modifiedAt: Date.parse('2025-01-02T00:00:00.123Z'),
        records: 2,
        bytes: aBytes,
        generation: 0,
      },
    ]);
    // Paging after an old row works to the millisecond (its microseconds were cut).
    expect(
      (await store.list({ after: listed[0] as (typeof listed)[0] })).map((row) => row.id),
    ).toEqual(['old-a']);
    const index = await pool.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'agent_records_activity'`,
      [schema],
    );
    expect(index.rows[0]?.indexdef).toMatch(/updated_at DESC, session_id COLLATE "C"/);

    // The old sessions go on: read from a position, append, snapshot, title.
    const persistence = new PostgresAgentRecordPersistence<Rec>('old-a', { pool, schema });
    const tail: Rec[] = [];
    for await (const batch of persistence.readFrom({ seq: 1, generation: 0 }))
      tail.push(...batch.records);
    expect(tail).toEqual([{ n: 2, type: 't' }]);
    persistence.append({ type: 't', n: 3 });
    persistence.setTitle('upgraded');
    persistence.writeSnapshot({ records: 3, data: '{"state":3}' });
    await persistence.close();
    expect(await store.list({ limit: 1 })).toMatchObject([
      { id: 'old-a', records: 3, bytes: aBytes + 19, title: 'upgraded' },
    ]);
    const again = new PostgresAgentRecordPersistence<Rec>('old-a', { pool, schema });
    expect(await again.readSnapshot()).toMatchObject({
      position: { seq: 3, generation: 0 },
      records: 3,
      data: '{"state":3}',
    });
    await again.close();
    // Running it again changes nothing.
    await ensureSchema(pool, { schema, table: 'agent_records' });
    expect((await store.list()).map((row) => row.bytes)).toEqual([aBytes + 19, bBytes]);
  });

  it('refuses a database of a newer version, naming it', async () => {
    const newer = schemaName();
    try {
      await ensureSchema(pool, { schema: newer, table: 'agent_records' });
      await pool.query(
        `UPDATE "${newer}".agent_records_meta SET value = '3' WHERE key = 'schema_version'`,
      );
      await expect(ensureSchema(pool, { schema: newer, table: 'agent_records' })).rejects.toThrow(
        /schema version 3, newer than this package's 2/,
      );
    } finally {
      await dropSchema(newer);
    }
  });
});

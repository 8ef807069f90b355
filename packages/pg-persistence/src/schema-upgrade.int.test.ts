import { type AgentRecordEnvelope, RecordsPositionError } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, generationOf, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema, SCHEMA_VERSION } from './schema.js';
import { qualified, schemaStatements } from './sql.js';
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

/**
 * A database as version 2 of this package left it: version 1's tables (literal, above) and the
 * version 2 upgrade (its statements are unchanged since); sessions whose generations counted
 * their rewrites, one of them deleted before the upgrade.
 */
async function versionTwoDatabase(at: string): Promise<void> {
  const sql = schemaStatements(qualified({ schema: at, table: 'agent_records' }));
  await pool.query(`CREATE SCHEMA "${at}"`);
  for (const statement of [
    sql.createMeta,
    sql.createRecords,
    sql.createSessions,
    ...sql.upgradeTo2,
  ])
    await pool.query(statement);
  await pool.query(sql.setVersion, ['2']);
  await pool.query(`INSERT INTO "${at}".agent_records_sessions (session_id, head_seq, generation)
      VALUES ('kept', 2, 7), ('fresh', 0, 0)`);
  await pool.query(`INSERT INTO "${at}".agent_records (session_id, seq, record) VALUES
      ('kept', 1, '{"n": 1, "type": "t"}'), ('kept', 2, '{"n": 2, "type": "t"}')`);
}

describe.skipIf(!available)('ensureSchema upgrades a version 2 database', () => {
  it('generations come from a sequence above every stored one: old positions stay valid, a deleted and re-created session never takes an old generation again', async () => {
    const at = schemaName();
    try {
      await versionTwoDatabase(at);
      await ensureSchema(pool, { schema: at, table: 'agent_records' });
      const version = await pool.query(
        `SELECT value FROM "${at}".agent_records_meta WHERE key = 'schema_version'`,
      );
      expect(version.rows).toEqual([{ value: '3' }]);
      const store = new PostgresAgentRecordStore({ pool, schema: at });
      const open = (id: string) =>
        new PostgresAgentRecordPersistence<Rec>(id, { pool, schema: at });
      // The stored generations are kept: positions given before the upgrade still read.
      const kept = open('kept');
      const tail: Rec[] = [];
      for await (const batch of kept.readFrom({ seq: 1, generation: 7 }))
        tail.push(...batch.records);
      expect(tail).toEqual([{ n: 2, type: 't' }]);
      // A rewrite takes the sequence's next value, not 8.
      kept.rewrite([{ type: 't', n: 10 }]);
      await kept.close();
      const rewritten = (await generationOf(pool, at, 'kept')) as number;
      expect(rewritten).toBeGreaterThanOrEqual(2 ** 32);
      // Deleted and written again with as many records: a new generation, so a position of the
      // old log is refused instead of reading the new one as if it were the old.
      const fresh = open('fresh');
      for (let n = 0; n < 3; n++) fresh.append({ type: 't', n });
      await fresh.close();
      const before = (await generationOf(pool, at, 'fresh')) as number;
      expect(before).toBe(0); // the row existed before the upgrade
      expect(await store.delete('fresh')).toBe(true);
      const again = open('fresh');
      for (let n = 100; n < 103; n++) again.append({ type: 't', n });
      await again.close();
      const after = (await generationOf(pool, at, 'fresh')) as number;
      expect(after).toBeGreaterThan(rewritten);
      const reader = open('fresh');
      await expect(
        reader.readFrom({ seq: 2, generation: before })[Symbol.asyncIterator]().next(),
      ).rejects.toBeInstanceOf(RecordsPositionError);
      await reader.close();
      // Running it again changes nothing: the sequence goes on where it was.
      await ensureSchema(pool, { schema: at, table: 'agent_records' });
      const next = open('next');
      next.append({ type: 't', n: 0 });
      await next.close();
      expect(await generationOf(pool, at, 'next')).toBeGreaterThan(after);
      // Every generation is a safe integer for positions.
      const sequence = await pool.query(
        `SELECT max_value::text AS max FROM pg_sequences WHERE schemaname = $1`,
        [at],
      );
      expect(sequence.rows).toEqual([{ max: String(Number.MAX_SAFE_INTEGER) }]);
    } finally {
      await dropSchema(at);
    }
  });
});

describe.skipIf(!available)('ensureSchema upgrades a version 1 database', () => {
  it('adds the summary columns (bytes counted from the rows), the activity index and the snapshots table; the sessions read and write on', async () => {
    expect(SCHEMA_VERSION).toBe(3);
    await versionOneDatabase();
    await ensureSchema(pool, { schema, table: 'agent_records' });
    const version = await pool.query(
      `SELECT value FROM "${schema}".agent_records_meta WHERE key = 'schema_version'`,
    );
    expect(version.rows).toEqual([{ value: '3' }]);

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
        `UPDATE "${newer}".agent_records_meta SET value = '4' WHERE key = 'schema_version'`,
      );
      await expect(ensureSchema(pool, { schema: newer, table: 'agent_records' })).rejects.toThrow(
        /schema version 4, newer than this package's 3/,
      );
    } finally {
      await dropSchema(newer);
    }
  });
});

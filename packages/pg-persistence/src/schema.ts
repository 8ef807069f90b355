import type { Pool } from 'pg';
import { inTransaction } from './client.js';

/** Where the records live: `"schema"."table"` and its sessions table `"schema"."table_sessions"`. */
export interface TableNames {
  schema: string;
  table: string;
}

export const SCHEMA_VERSION = 1;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function checkIdentifier(kind: string, value: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new TypeError(
      `Invalid ${kind} name ${JSON.stringify(value)}: use letters, digits and underscores (at most 63, not starting with a digit).`,
    );
  }
  return value;
}

export function qualified(names: TableNames) {
  const schema = `"${checkIdentifier('schema', names.schema)}"`;
  const table = checkIdentifier('table', names.table);
  return {
    schema,
    records: `${schema}."${table}"`,
    sessions: `${schema}."${table}_sessions"`,
    meta: `${schema}."${table}_meta"`,
    lockKey: `agent-records:${names.schema}.${table}`,
  };
}

/**
 * Creates or upgrades the tables. Idempotent and safe to run from many processes at once: the
 * work happens under a transaction-scoped advisory lock.
 */
export async function ensureSchema(pool: Pool, names: TableNames): Promise<void> {
  const q = qualified(names);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [q.lockKey]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q.schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q.meta} (key text PRIMARY KEY, value text NOT NULL)`,
    );
    const { rows } = await client.query<{ value: string }>(
      `SELECT value FROM ${q.meta} WHERE key = 'schema_version'`,
    );
    const version = rows[0] ? Number(rows[0].value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${q.records} is at schema version ${version}, newer than this package's ${SCHEMA_VERSION}: upgrade @agent-records/pg-persistence.`,
      );
    }
    if (version < 1) {
      // One row per record; (session_id, seq) is the key, and the sessions row holds the head
      // sequence number that every write moves with a compare-and-set: the fence. jsonb cannot
      // hold U+0000: a record with one keeps its exact JSON in record_json (jsonb gets U+FFFD).
      await client.query(`CREATE TABLE IF NOT EXISTS ${q.records} (
        session_id text NOT NULL,
        seq bigint NOT NULL,
        record jsonb NOT NULL,
        record_json text,
        time timestamptz,
        PRIMARY KEY (session_id, seq)
      )`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${q.sessions} (
        session_id text PRIMARY KEY,
        head_seq bigint NOT NULL DEFAULT 0,
        generation bigint NOT NULL DEFAULT 0,
        last_batch text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
      await client.query(
        `INSERT INTO ${q.meta} (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [String(SCHEMA_VERSION)],
      );
    }
  });
}

import type { Pool } from 'pg';
import { inTransaction, withClient } from './client.js';
import { qualified, schemaStatements, type TableNames } from './sql.js';

export type { TableNames } from './sql.js';

/**
 * 1: records, sessions (head, generation), meta. 2: session summaries (bytes, title, the activity
 * index) and snapshots. 3: generations from a sequence (never repeated for a session id).
 */
export const SCHEMA_VERSION = 3;

/**
 * Creates or upgrades the tables. Idempotent and safe to run from many processes at once: the
 * work happens under a transaction-scoped advisory lock. A new database goes through the same
 * steps as an old one being upgraded (version 1's tables, then each upgrade), so the upgrade
 * path is the one every test runs.
 */
export async function ensureSchema(pool: Pool, names: TableNames): Promise<void> {
  const q = qualified(names);
  const sql = schemaStatements(q);
  // The usual case, tables at this version: one read, not a locked transaction of six
  // statements (each a round trip the first write waits for). The version is set in the
  // transaction that makes the tables, so a version read means they are all there.
  if ((await storedVersion(pool, sql.selectVersion)) === SCHEMA_VERSION) return;
  await inTransaction(pool, async (client) => {
    await client.query(sql.lock, [q.lockKey]);
    await client.query(sql.createSchema);
    await client.query(sql.createMeta);
    const { rows } = await client.query<{ value: string }>(sql.selectVersion);
    const version = rows[0] ? Number(rows[0].value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${q.records} is at schema version ${version}, newer than this package's ${SCHEMA_VERSION}: upgrade @agent-records/pg-persistence.`,
      );
    }
    if (version < 1) {
      await client.query(sql.createRecords);
      await client.query(sql.createSessions);
    }
    if (version < 2) {
      for (const statement of sql.upgradeTo2) await client.query(statement);
    }
    if (version < 3) {
      for (const statement of sql.upgradeTo3) await client.query(statement);
    }
    if (version < SCHEMA_VERSION) await client.query(sql.setVersion, [String(SCHEMA_VERSION)]);
  });
}

/** The tables' version, or null when it cannot be read (no tables yet: the locked path says). */
async function storedVersion(pool: Pool, selectVersion: string): Promise<number | null> {
  return withClient(
    pool,
    async (client) => {
      const { rows } = await client.query<{ value: string }>(selectVersion);
      return rows[0] ? Number(rows[0].value) : null;
    },
    // A missing table or schema leaves the connection as it was.
    (error) => ['42P01', '3F000'].includes((error as { code?: string }).code ?? ''),
  ).catch(() => null);
}

import { type ReadySnapshot, utf8ByteLength } from '@agent-records/backend-kit';
import type { StoredSnapshot } from '@agent-records/types';
import type pg from 'pg';
import { withClient } from './client.js';
import { type QualifiedNames, sessionStatements } from './sql.js';

/**
 * Stores `ready` as the session's one snapshot, in one statement (atomic: the previous snapshot
 * or this one). Refused (thrown, so the kit drops it as a warning) when the session is no longer
 * in the generation the snapshot covers or holds fewer rows: a rewrite, or a delete, came first.
 * The rewrite's transaction deletes the snapshot row, and this statement locks the sessions row,
 * so whichever commits first, no snapshot of an older log survives a rewrite.
 */
export async function storeSnapshot(
  pool: pg.Pool,
  names: QualifiedNames,
  sessionId: string,
  ready: ReadySnapshot,
): Promise<void> {
  const { seq, generation } = ready.position as { seq: number; generation: number };
  const sql = sessionStatements(names);
  // Its position came from a sessions row (the writer learns one before placing a snapshot,
  // making it for a log never written): one statement, atomic.
  const stored = await withClient(pool, (client) =>
    client.query(sql.upsertSnapshot, [sessionId, seq, generation, ready.records, ready.data]),
  );
  if (stored.rowCount !== 1) {
    throw new Error(
      `session ${sessionId} was rewritten or deleted before it could be stored (it covers ` +
        `generation ${generation} up to seq ${seq})`,
    );
  }
}

/** The session's snapshot as stored, or null when it has none. */
export async function loadSnapshot(
  pool: pg.Pool,
  names: QualifiedNames,
  sessionId: string,
): Promise<StoredSnapshot | null> {
  const { rows } = await withClient(pool, (client) =>
    client.query<{
      seq: string;
      generation: string;
      records: string;
      written_at: Date;
      data: string;
    }>(sessionStatements(names).selectSnapshot, [sessionId]),
  );
  const row = rows[0];
  if (!row) return null;
  return {
    position: { seq: Number(row.seq), generation: Number(row.generation) },
    records: Number(row.records),
    writtenAt: row.written_at.getTime(),
    bytes: utf8ByteLength(row.data),
    data: row.data,
  };
}

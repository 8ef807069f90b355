import { RecordsPositionError } from '@agent-records/types';
import type pg from 'pg';
import { checkout } from './client.js';
import {
  BEGIN_SNAPSHOT_READ,
  COMMIT,
  KEYSET_PLAN,
  type QualifiedNames,
  ROLLBACK,
  sessionStatements,
} from './sql.js';

const PAGE_SIZE = 1000;

/** The sessions row as the read transaction saw it (zeros, null for a session without one). */
export interface SessionHead {
  head: number;
  generation: number;
  /** The batch that last moved the head (`writer-token:n`), if any. */
  lastBatch: string | null;
}

/** The rows to read: those with `after < seq <= upTo`. */
export interface ReadRange {
  after: number;
  upTo: number;
}

/** One page of rows, and the seq of its last row. */
export interface Page<R> {
  records: R[];
  last: number;
}

/**
 * A session's committed records in pages of at most 1000, read with keyset pagination inside
 * one REPEATABLE READ transaction: a consistent snapshot in constant memory. Before the first
 * page, `plan` is told the sessions row the transaction sees and answers the range to read,
 * or null when that snapshot does not fit what the caller expected: then nothing is yielded,
 * the transaction is rolled back and the generator returns false (the caller tries again).
 * `plan` may throw (a position that does not fit the log): the transaction is rolled back and
 * the connection reused.
 */
export async function* readCommitted<R>(
  pool: pg.Pool,
  names: QualifiedNames,
  sessionId: string,
  plan: (found: SessionHead) => ReadRange | null,
): AsyncGenerator<Page<R>, boolean> {
  const sql = sessionStatements(names);
  const client = await checkout(pool);
  let broken = false;
  let finished = false;
  try {
    await client.query(BEGIN_SNAPSHOT_READ);
    for (const setting of KEYSET_PLAN) await client.query(setting);
    const session = await client.query<{
      head_seq: string;
      generation: string;
      last_batch: string | null;
    }>(sql.selectHeadAndBatch, [sessionId]);
    const row = session.rows[0];
    const range = plan({
      head: row ? Number(row.head_seq) : 0,
      generation: row ? Number(row.generation) : 0,
      lastBatch: row?.last_batch ?? null,
    });
    if (range === null) return false; // rolled back below
    const selectPage = sql.selectPage(PAGE_SIZE);
    let last = range.after;
    for (;;) {
      const page = await client.query<{ seq: string; record: string }>(selectPage, [
        sessionId,
        last,
        range.upTo,
      ]);
      if (page.rows.length === 0) break;
      last = Number((page.rows[page.rows.length - 1] as { seq: string }).seq);
      yield { records: page.rows.map((r) => JSON.parse(r.record) as R), last };
      if (page.rows.length < PAGE_SIZE) break;
    }
    await client.query(COMMIT);
    finished = true;
    return true;
  } catch (error) {
    // A position that does not fit was found before any I/O failed: the connection is fine.
    broken = !(error instanceof RecordsPositionError);
    throw error;
  } finally {
    // A failure, or a reader that stopped early: end the transaction before the client goes back.
    if (!finished) {
      await client.query(ROLLBACK).catch(() => {
        broken = true;
      });
    }
    client.release(broken ? true : undefined);
  }
}

/**
 * Queued work in pages, as the store would return it (a JSON round trip): a pending rewrite's
 * records, or the rows of queued appends.
 */
export function* pagesOf<T, R>(items: readonly T[], serialize: (item: T) => string): Iterable<R[]> {
  for (let i = 0; i < items.length; i += PAGE_SIZE) {
    yield items.slice(i, i + PAGE_SIZE).map((item) => JSON.parse(serialize(item)) as R);
  }
}

import { RecordsPositionError } from '@agent-records/types';
import type pg from 'pg';
import { checkout } from './client.js';
import {
  BEGIN_SNAPSHOT_READ,
  COMMIT,
  type QualifiedNames,
  ROLLBACK,
  sessionStatements,
} from './sql.js';
import { NO_SESSION, preparedName } from './writer.js';

/** Records per batch yielded. */
const PAGE_SIZE = 1000;
/**
 * Rows per query: fewer round trips than one per batch (100 queries for 100,000 rows cost a
 * quarter more than one plain SELECT of them all), while memory stays bounded (this many rows
 * as text, and the next query's as they arrive).
 */
const ROWS_PER_QUERY = 5000;
/** Rows as they arrive: pg parses nothing (the records are parsed a batch at a time when yielded). */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** The sessions row as the read transaction saw it (head 0, `NO_SESSION`, null for a session without one). */
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
  type Rows = pg.QueryArrayResult<[string, string]>;
  let pending: Promise<Rows> | null = null;
  try {
    await client.query(BEGIN_SNAPSHOT_READ);
    const session = await client.query<{
      head_seq: string;
      generation: string;
      last_batch: string | null;
    }>(sql.selectHeadAndBatch, [sessionId]);
    const row = session.rows[0];
    const range = plan({
      head: row ? Number(row.head_seq) : 0,
      generation: row ? Number(row.generation) : NO_SESSION,
      lastBatch: row?.last_batch ?? null,
    });
    if (range === null) return false; // rolled back below
    const text = sql.selectPage(ROWS_PER_QUERY);
    const name = preparedName('page', text);
    const query = (after: number) =>
      client.query<[string, string]>({
        name,
        text,
        values: [sessionId, after, range.upTo],
        rowMode: 'array',
        types: RAW_TEXT,
      });
    pending = query(range.after);
    for (;;) {
      const { rows }: Rows = await (pending as Promise<Rows>);
      pending = null;
      const full = rows.length === ROWS_PER_QUERY;
      // The next rows are asked for before these are parsed and used: the server reads them
      // meanwhile (the queries of one transaction still run one after the other).
      if (full) pending = query(Number((rows[rows.length - 1] as [string, string])[0]));
      for (let i = 0; i < rows.length; i += PAGE_SIZE) {
        const slice = rows.slice(i, i + PAGE_SIZE);
        yield {
          records: slice.map((r) => JSON.parse(r[1]) as R),
          last: Number((slice[slice.length - 1] as [string, string])[0]),
        };
      }
      if (!full) break;
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
      // A query asked for ahead of a reader that stopped: its answer (or failure) is not wanted.
      await pending?.catch(() => {});
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

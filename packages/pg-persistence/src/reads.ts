import type { WriterLoop } from '@agent-records/backend-kit';
import { serializeRecord } from '@agent-records/backend-kit';
import { type RecordsPosition, RecordsPositionError } from '@agent-records/types';
import type pg from 'pg';
import { pagesOf, type ReadRange, readCommitted, type SessionHead } from './reader.js';
import type { QualifiedNames } from './sql.js';
import { NO_SESSION, type Row, type RowQueue, type SessionWriter } from './writer.js';

/** A place in a session's log: after row `seq` of the log's `generation` (a value of its own, never reused for the session id). */
export type PgPosition = { seq: number; generation: number };

/** Records of one view, and where they end (`null`: not written yet, no position). */
export interface ViewBatch<R> {
  records: R[];
  end: PgPosition | null;
}

/** What a read needs of its persistence. */
export interface ReadSource<R> {
  sessionId: string;
  names: QualifiedNames;
  writer: SessionWriter<R>;
  queue: RowQueue<R>;
  progress: WriterLoop;
  /** The pool to read on (throws when the persistence is closed). */
  connections(): pg.Pool;
}

/** Checks that `position` is one of this backend's (`{ seq, generation }`, integers >= 0). */
export function pgPosition(sessionId: string, position: RecordsPosition): PgPosition {
  const { seq, generation } = position;
  if (
    typeof seq !== 'number' ||
    typeof generation !== 'number' ||
    !Number.isSafeInteger(seq) ||
    !Number.isSafeInteger(generation) ||
    seq < 0 ||
    generation < 0
  ) {
    throw new RecordsPositionError(
      `${JSON.stringify(position)} is not a position in PostgreSQL session ${sessionId}: ` +
        'expected { seq, generation } (integers >= 0), as readFrom() and readSnapshot() give ' +
        'them. Read from the start instead (readFrom(null)).',
    );
  }
  return { seq, generation };
}

/**
 * The session as this persistence sees it, from `from` on (null: the start): its committed rows
 * in pages of at most 1000 (read with keyset pagination inside one REPEATABLE READ transaction:
 * a consistent snapshot, constant memory), each with the position after its last row, then
 * whatever this writer had not committed yet (`end: null`). A `from` that does not fit the log
 * (another generation, beyond its end, or a rewrite of this writer still queued) rejects with
 * `RecordsPositionError` before anything is yielded.
 */
export async function* readView<R>(
  source: ReadSource<R>,
  from: PgPosition | null,
): AsyncGenerator<ViewBatch<R>> {
  for (;;) {
    // What this writer had committed, and what it still holds, at one instant.
    const head = source.writer.head;
    const generation = source.writer.generation;
    const snapshot = source.queue.snapshot();
    if (snapshot.base) {
      if (from !== null) {
        throw new RecordsPositionError(
          `Session ${source.sessionId} is being rewritten (a rewrite is queued): position ` +
            `${describe(from)} is of the log it replaces. Read from the start instead.`,
        );
      }
      for (const records of pagesOf<R, R>(snapshot.base, (record) => serializeRecord(record)))
        yield { records, end: null };
    } else {
      // The generation the read transaction sees: the `end` of every page is in it.
      const seen = { generation: 0 };
      const pages = readCommitted<R>(source.connections(), source.names, source.sessionId, (at) => {
        seen.generation = at.generation;
        const upTo = readUpTo(source, at, head, generation);
        return upTo === null ? null : rangeFrom(source.sessionId, from, at, upTo);
      });
      let fits = true;
      try {
        for (;;) {
          const page = await pages.next();
          if (page.done) {
            fits = page.value;
            break;
          }
          yield {
            records: page.value.records,
            end: { seq: page.value.last, generation: seen.generation },
          };
        }
      } finally {
        // A reader that stopped early: the read transaction ends before the client goes back.
        await pages.return(true);
      }
      if (!fits) continue; // nothing was yielded: take both snapshots again
    }
    for (const records of pagesOf<Row, R>(snapshot.appends, (row) => row.line))
      yield { records, end: null };
    return;
  }
}

/** The rows after `from` up to `upTo`, or RecordsPositionError when `from` is not in that log. */
function rangeFrom(
  sessionId: string,
  from: PgPosition | null,
  found: SessionHead,
  upTo: number,
): ReadRange {
  if (from === null) return { after: 0, upTo };
  if (found.generation === NO_SESSION) {
    throw new RecordsPositionError(
      `Position ${describe(from)} is of a log session ${sessionId} does not have: none is ` +
        'stored (it was deleted, or never written). Read from the start instead.',
    );
  }
  if (from.generation !== found.generation) {
    throw new RecordsPositionError(
      `Position ${describe(from)} is of generation ${from.generation} of session ${sessionId}, ` +
        `which has been rewritten, or deleted and written again, since (now generation ` +
        `${found.generation}): the records before it are not the same. Read from the start instead.`,
    );
  }
  const end = Math.min(upTo, found.head);
  if (from.seq > end) {
    throw new RecordsPositionError(
      `Position ${describe(from)} is beyond the end of session ${sessionId} (${end} records): ` +
        'the log was truncated or replaced since. Read from the start instead.',
    );
  }
  return { after: from.seq, upTo };
}

function describe(position: PgPosition): string {
  return `{ seq: ${position.seq}, generation: ${position.generation} }`;
}

/**
 * The last seq to read from a table snapshot (`found`) so that it and a queue snapshot taken
 * when this writer had committed up to `head` in `generation` make one view. The queue
 * snapshot's records were not committed then; a batch that committed since (the one in flight,
 * or a later one) holds rows after `head` only, so reading up to `head` leaves them to the
 * queue snapshot and yields none twice. Two cases do not fit and are read again (null): the
 * head was not known yet and a batch of this writer has committed since (its rows would be
 * read twice), or a rewrite of this writer committed since (the rows up to `head` are no
 * longer the ones the queue snapshot follows).
 */
function readUpTo<R>(
  source: ReadSource<R>,
  found: SessionHead,
  head: number | null,
  generation: number,
): number | null {
  const ours = source.writer.wrote(found.lastBatch);
  if (head === null) {
    if (ours) return null;
    if (source.writer.head === null && !source.progress.running && source.queue.empty) {
      // A replay fences the writer: its first write expects the log it has just read.
      source.writer.adoptHead(found.head, found.generation);
    }
    return found.head;
  }
  if (ours && found.generation !== generation) return null;
  return head;
}

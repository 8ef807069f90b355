import type { PendingSnapshots, QueuedBatch, WriterLoop } from '@agent-records/backend-kit';
import {
  RecordsConflictError,
  RecordsInvalidError,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';
import type pg from 'pg';
import { isDataRefusal } from './storable.js';
import type { PendingTitle } from './title.js';
import type { Row, RowBatch, RowQueue, SessionWriter } from './writer.js';

/** What the writer's turn works with: the persistence's parts. */
export interface WriteParts<R> {
  sessionId: string;
  queue: RowQueue<R>;
  writer: SessionWriter<R>;
  progress: WriterLoop;
  title: PendingTitle;
  snapshots: PendingSnapshots;
  /** The pool to write on. */
  connections(): pg.Pool;
  /** Creates or upgrades the tables if the persistence was asked to. */
  prepare(): Promise<void>;
}

/** The batch of a write that holds only a title. */
const NO_ROWS: RowBatch<never> = { rewrite: null, appends: [] };

/**
 * One turn of the writer (the kit's `WriterLoop` runs it): batches taken from the queue and
 * written, each in one transaction, until nothing is queued or a failure is latched; a batch the
 * server refuses for a data reason is cut until the one row it refuses is found.
 */
export class WriteTurn<R> {
  readonly #parts: WriteParts<R>;
  readonly #search = new RefusedRowSearch();

  constructor(parts: WriteParts<R>) {
    this.#parts = parts;
  }

  /** A rewrite was queued: it replaces any batch being cut to find a refused row. */
  rewriteQueued(): void {
    this.#search.reset();
  }

  async run(): Promise<void> {
    const { queue, title: titles, snapshots, writer } = this.#parts;
    while (
      this.#parts.progress.writable &&
      (!queue.empty || titles.queued || snapshots.needsPosition(queue.reachedMark))
    ) {
      try {
        await this.#parts.prepare();
        const committed = await writer.learnHead(this.#parts.connections());
        if (committed !== null) this.#parts.progress.complete(committed);
      } catch (error) {
        if (error instanceof RecordsConflictError) this.#refuse(error);
        else this.#fail(error);
        return;
      }
      // Before the next batch: the snapshots whose records are all durable take the head as
      // their position (the queue cuts batches at their marks, so the head is exactly there).
      snapshots.reached(queue.reachedMark, () => ({
        seq: writer.head as number,
        generation: writer.generation,
      }));
      // The newest rewrite (if any) and the appends queued after it, as one batch.
      const maxAppends = this.#search.maxAppends();
      const batch = this.#parts.queue.empty
        ? null
        : this.#parts.queue.take(maxAppends === undefined ? {} : { maxAppends });
      // The title goes with a batch that leaves nothing queued behind it, so that a flush never
      // counts it as written before the appends queued before it.
      const title = this.#parts.queue.empty ? this.#parts.title.take() : null;
      if (batch === null && title === null) break; // a retried batch had committed
      try {
        await this.#parts.writer.write(
          this.#parts.connections(),
          batch ?? NO_ROWS,
          title?.value ?? null,
        );
        if (batch) this.#search.written(batch.appends.length);
        this.#parts.progress.complete(
          (batch ? this.#parts.queue.written() : 0) + (title?.operations ?? 0),
        );
      } catch (error) {
        this.#parts.title.putBack(title);
        if (batch === null) {
          if (error instanceof RecordsConflictError) this.#refuse(error);
          else this.#fail(error);
          return;
        }
        // Settle the waiting flushes first: requeueing may discard work a rewrite superseded,
        // and that must not read as written.
        if (
          batch.rewrite &&
          (error instanceof RecordsSerializeError || error instanceof RecordsInvalidError)
        ) {
          this.#refuseRewrite(error);
          this.#parts.progress.discard(this.#parts.queue.requeue({ dropRewrite: true }));
          continue;
        }
        if (isDataRefusal(error)) {
          this.#isolate(batch, error);
          continue;
        }
        if (error instanceof RecordsConflictError) this.#refuse(error);
        else this.#fail(error);
        this.#parts.queue.requeue();
        return;
      }
    }
  }

  /**
   * The server refused a batch for a data reason (append checked what it can, but a server may
   * still refuse a row: a constraint, an encoding, a nesting limit). That is no I/O failure and
   * retrying would never end it, so it is no episode: the batch is retried in halves until the
   * one row it refuses is found, which is reported and dropped alone (a rewrite it is in is
   * refused whole and the old log kept); every other record is written, in order.
   */
  #isolate(batch: RowBatch<R>, error: unknown): void {
    this.#parts.writer.forgetAttempt();
    const cause = error as Error & { code: string };
    if (batch.rewrite && batch.appends.length === 0) {
      this.#search.reset();
      this.#refuseRewrite(
        new RecordsWriteError(
          `PostgreSQL refused a record of the rewrite (SQLSTATE ${cause.code}: ${cause.message})`,
          { cause },
        ),
      );
      this.#parts.progress.discard(this.#parts.queue.requeue({ dropRewrite: true }));
      return;
    }
    if (!batch.rewrite && batch.appends.length === 1) {
      const recordType = (JSON.parse((batch.appends[0] as Row).line) as { type?: string }).type;
      this.#search.reset();
      this.#parts.progress.report(
        new RecordsWriteError(
          `PostgreSQL refused record ${JSON.stringify(recordType)} of session ${this.#parts.sessionId} ` +
            `(SQLSTATE ${cause.code}: ${cause.message}). It was not stored; the records before ` +
            'and after it were. Check the table for constraints or triggers that refuse it.',
          { cause },
        ),
        { kind: 'record-refused', ...(recordType !== undefined && { recordType }) },
      );
      this.#parts.progress.discard(this.#parts.queue.drop());
      // The snapshots asked for after it reflect a record the log will not hold.
      this.#parts.snapshots.invalidate('a record before it was refused by PostgreSQL');
      return;
    }
    this.#search.halve(batch);
    this.#parts.queue.requeue();
  }

  /** Another writer moved the session: nothing more is written, no snapshot either. */
  #refuse(error: RecordsConflictError): void {
    this.#parts.progress.refuse(error);
    this.#parts.snapshots.invalidate('another writer changed the session');
  }

  #fail(error: unknown): void {
    this.#parts.progress.fail(
      error,
      (cause) =>
        `Writing session ${this.#parts.sessionId} failed (${cause.message}); ${this.#parts.queue.queuedOperations + (this.#parts.queue.inflight?.appends.length ?? 0)} records ` +
        'stay queued in order and are retried on the next flush().',
    );
  }

  /**
   * A rewrite the store cannot hold is dropped whole and the old log kept: reported once, and
   * the next flush() rejects with it (as on the memory backend). What was queued before it goes
   * back to the queue (`OperationQueue.requeue({ dropRewrite: true })`).
   */
  #refuseRewrite(error: RecordsSerializeError | RecordsInvalidError | RecordsWriteError): void {
    // Snapshots asked for after the rewrite call stood for the log it would have made.
    this.#parts.snapshots.invalidate('its rewrite was refused');
    const recordType = 'recordType' in error ? error.recordType : undefined;
    this.#parts.progress.report(error, {
      kind: 'record-refused',
      ...(recordType !== undefined && { recordType }),
    });
    this.#parts.progress.latchRefusal(
      new RecordsWriteError(
        `The rewrite of session ${this.#parts.sessionId} was refused and the old log kept: ${error.message}`,
        { cause: error },
      ),
    );
  }
}

/**
 * After the server refused a batch for a data reason: at most `limit` appends per batch until
 * the refused row is found, or the `remaining` appends of the refused batch are written.
 */
class RefusedRowSearch {
  #isolation: { limit: number; remaining: number } | null = null;

  /**
   * The most appends the next batch may take (undefined: no limit). The queue's `take` makes
   * that at least one append when the batch holds no rewrite.
   */
  maxAppends(): number | undefined {
    return this.#isolation?.limit;
  }

  /** These rows were not the refused one: once all of the refused batch is written, stop cutting. */
  written(appends: number): void {
    if (!this.#isolation) return;
    this.#isolation.remaining -= appends;
    if (this.#isolation.remaining <= 0) this.#isolation = null;
  }

  /** Found (a lone append or a lone rewrite), or replaced by a rewrite: stop cutting. */
  reset(): void {
    this.#isolation = null;
  }

  /** Halve the batch (a rewrite with one append: the rewrite alone) and write on from its start. */
  halve(batch: QueuedBatch<unknown, unknown>): void {
    const appends = batch.appends.length;
    this.#isolation = {
      limit: batch.rewrite ? Math.floor(appends / 2) : Math.ceil(appends / 2),
      remaining: this.#isolation?.remaining ?? appends,
    };
  }
}

import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  failureOf,
  OperationQueue,
  serializeRecord,
  WriterLoop,
} from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsClosedError,
  RecordsConflictError,
  type RecordsErrorHandler,
  RecordsInvalidError,
  RecordsInvalidSessionIdError,
  RecordsSerializeError,
  RecordsWriteError,
  sessionIdProblem,
} from '@agent-records/types';
import type pg from 'pg';
import { poolFrom } from './client.js';
import { pagesOf, readCommitted, type SessionHead } from './reader.js';
import { ensureSchema } from './schema.js';
import { qualified, type TableNames } from './sql.js';
import { isDataRefusal, storableRecord } from './storable.js';
import {
  RefusedRowSearch,
  type Row,
  type RowBatch,
  SessionWriter,
  unwrittenCount,
  unwrittenRecords,
} from './writer.js';

export interface PostgresAgentRecordPersistenceOptions {
  /** A pool to use (not ended by `close()`); otherwise one is made from `connectionString`. */
  pool?: pg.Pool;
  /** Used when no pool is given; default: the `PG*` environment variables. */
  connectionString?: string;
  /** Schema of the tables (default `public`). */
  schema?: string;
  /** Records table (default `agent_records`; the sessions table is `<table>_sessions`). */
  table?: string;
  /** Create or upgrade the tables before the first query (default true). */
  ensureSchema?: boolean;
  /** Write failures (once per episode), their end, a conflict with another writer, refusals. */
  onError?: RecordsErrorHandler;
  /** Bound on queued, unwritten record bytes (default 64 MiB); `append` throws beyond it. */
  maxPendingBytes?: number;
}

/**
 * An agent-records log in PostgreSQL: one row per record (session id, per-session sequence
 * number, the record as jsonb, its time). Appends are group-committed as one multi-row INSERT per
 * batch in one transaction; the session's head sequence number is moved with a compare-and-set,
 * so a second writer is fenced off with `RecordsConflictError`; a retry after a lost connection
 * checks whether the batch had committed, so nothing is written twice.
 *
 * This class wires the parts: the operation queue and the writer loop of the backend kit, the
 * batch transaction (`writer.ts`), the keyset reader (`reader.ts`); all SQL is in `sql.ts`.
 */
export class PostgresAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecord>
  implements AgentRecordPersistence<R>
{
  readonly sessionId: string;
  /** Null once close() released a pool of its own (a later close() makes another to retry). */
  #pool: pg.Pool | null;
  readonly #ownsPool: boolean;
  readonly #connectionString: string | undefined;
  readonly #names: ReturnType<typeof qualified>;
  readonly #tables: TableNames;
  readonly #ensure: boolean;
  readonly #maxPendingBytes: number;
  #ready: Promise<void> | null = null;

  /** Rewrites hold the records as given (serialised by the writer); appends hold their rows. */
  readonly #queue = new OperationQueue<R, Row>();
  readonly #progress: WriterLoop;
  readonly #writer: SessionWriter<R>;
  readonly #search = new RefusedRowSearch();

  #closed = false;
  /** The close() in progress: while it runs, the writer may make a pool to retry on. */
  #closing: Promise<void> | null = null;

  constructor(sessionId: string, options: PostgresAgentRecordPersistenceOptions = {}) {
    const problem = sessionIdProblem(sessionId);
    if (problem !== null) throw new RecordsInvalidSessionIdError(sessionId, problem);
    this.sessionId = sessionId;
    this.#tables = { schema: options.schema ?? 'public', table: options.table ?? 'agent_records' };
    this.#names = qualified(this.#tables);
    this.#ownsPool = !options.pool;
    this.#connectionString = options.connectionString;
    this.#pool = poolFrom(options);
    this.#ensure = options.ensureSchema ?? true;
    // The onError option hears every report; without it (and without a subscribed handler) they
    // are printed to stderr.
    const errors = new ErrorReporter({ ...(options.onError && { onError: options.onError }) });
    this.#progress = new WriterLoop(errors, () => this.#run());
    this.#writer = new SessionWriter(sessionId, this.#names, this.#queue);
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  append(record: R): void {
    if (this.#closed)
      throw new RecordsClosedError(`Session ${this.sessionId} is closed; open it again to write.`);
    // Refused here, before anything is queued, if the server could not hold it.
    const { line, time } = storableRecord(record);
    // The bound counts UTF-8 bytes; records it drops are one report for the next flush().
    const bytes = Buffer.byteLength(line, 'utf8');
    this.#progress.admit(bytes, this.#maxPendingBytes);
    this.#queue.append({ line, time }, bytes);
    this.#progress.enqueue(1, bytes);
    this.#progress.schedule();
  }

  /**
   * Replaces the session's log in one transaction: readers see the old log or the new one. The
   * records are serialised by the writer; do not mutate them until `flush()` resolves.
   */
  rewrite(records: readonly R[]): void {
    if (this.#closed)
      throw new RecordsClosedError(`Session ${this.sessionId} is closed; open it again to write.`);
    // What is queued now stays queued (and counted) until the rewrite lands: if it is refused,
    // that is written as if the rewrite had never been asked for.
    this.#queue.rewrite(records.slice());
    this.#search.reset();
    this.#progress.enqueue();
    this.#progress.schedule();
  }

  /**
   * The error-handler capability (see `AgentRecordPersistence.setErrorHandler`): `AgentRecords`
   * subscribes its `onError` here; it replaces the stderr printer, and an `onError` option keeps
   * hearing too.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#progress.setErrorHandler(handler);
  }

  async flush(): Promise<void> {
    // A flush during a failure episode is the retry; one called while a write begun before it
    // is failing gets a retry of its own (the kit's WriterLoop); a refused rewrite rejects one
    // flush, after everything before it was written.
    await this.#progress.waitForAll();
  }

  /**
   * Flushes once more, then releases the connections whatever the flush said (a pool of its
   * own is ended), then rejects with the flush's reason. Records a failure left unwritten stay
   * queued: a later close() retries them on a new pool of its own and releases it again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const previous = this.#closing;
    const attempt = (async () => {
      await previous?.catch(() => {});
      const failure = await failureOf(this.flush());
      // A run still going must not hold a client while its pool ends.
      await this.#progress.running;
      await this.#release();
      if (failure) throw failure.error;
    })();
    this.#closing = attempt;
    try {
      await attempt;
    } finally {
      if (this.#closing === attempt) this.#closing = null;
    }
  }

  async #release(): Promise<void> {
    const pool = this.#pool;
    if (!this.#ownsPool || pool === null) return;
    this.#pool = null;
    await pool.end();
  }

  /** The pool to use: after close() released its own, only a close() retrying gets another. */
  #connections(): pg.Pool {
    if (this.#pool) return this.#pool;
    if (this.#closing === null) {
      throw new RecordsClosedError(
        `Session ${this.sessionId} is closed and its connections were released; open it again ` +
          `to read, or call close() again to retry writing its ${unwrittenCount(this.#queue)} unwritten records.`,
      );
    }
    this.#pool = poolFrom({ connectionString: this.#connectionString });
    return this.#pool;
  }

  /** Records this writer could not write because another writer took the session (after a conflict). */
  unwrittenRecords(): R[] {
    return unwrittenRecords(this.#queue);
  }

  async *read(): AsyncIterable<R> {
    for await (const batch of this.readBatches()) {
      for (const record of batch) yield record;
    }
  }

  /**
   * The records in pages, read with keyset pagination inside one REPEATABLE READ transaction (a
   * consistent snapshot, constant memory), then whatever this writer had not committed yet.
   */
  async *readBatches(): AsyncIterable<readonly R[]> {
    await this.#prepare();
    for (;;) {
      // What this writer had committed, and what it still holds, at one instant.
      const head = this.#writer.head;
      const generation = this.#writer.generation;
      const snapshot = this.#queue.snapshot();
      if (snapshot.base) {
        yield* pagesOf(snapshot.base, (record) => serializeRecord(record));
      } else {
        const fits = yield* readCommitted<R>(
          this.#connections(),
          this.#names,
          this.sessionId,
          (found) => this.#readUpTo(found, head, generation),
        );
        if (!fits) continue; // nothing was yielded: take both snapshots again
      }
      yield* pagesOf(snapshot.appends, (row) => row.line);
      return;
    }
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
  #readUpTo(found: SessionHead, head: number | null, generation: number): number | null {
    const ours = this.#writer.wrote(found.lastBatch);
    if (head === null) {
      if (ours) return null;
      if (this.#writer.head === null && !this.#progress.running && this.#queue.empty) {
        // A replay fences the writer: its first write expects the log it has just read.
        this.#writer.adoptHead(found.head, found.generation);
      }
      return found.head;
    }
    if (ours && found.generation !== generation) return null;
    return head;
  }

  #prepare(): Promise<void> {
    if (!this.#ensure) return Promise.resolve();
    this.#ready ??= ensureSchema(this.#connections(), this.#tables).catch((error) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  async #run(): Promise<void> {
    while (this.#progress.writable && !this.#queue.empty) {
      try {
        await this.#prepare();
        const committed = await this.#writer.learnHead(this.#connections());
        if (committed !== null) this.#progress.complete(committed);
      } catch (error) {
        if (error instanceof RecordsConflictError) this.#progress.refuse(error);
        else this.#fail(error);
        return;
      }
      if (this.#queue.empty) break; // a retried batch had committed
      // The newest rewrite (if any) and the appends queued after it, as one batch.
      const maxAppends = this.#search.maxAppends();
      const batch = this.#queue.take(maxAppends === undefined ? {} : { maxAppends });
      if (batch === null) break;
      try {
        await this.#writer.write(this.#connections(), batch);
        this.#search.written(batch.appends.length);
        this.#progress.complete(this.#queue.written());
      } catch (error) {
        // Settle the waiting flushes first: requeueing may discard work a rewrite superseded,
        // and that must not read as written.
        if (
          batch.rewrite &&
          (error instanceof RecordsSerializeError || error instanceof RecordsInvalidError)
        ) {
          this.#refuseRewrite(error);
          this.#progress.discard(this.#queue.requeue({ dropRewrite: true }));
          continue;
        }
        if (isDataRefusal(error)) {
          this.#isolate(batch, error);
          continue;
        }
        if (error instanceof RecordsConflictError) this.#progress.refuse(error);
        else this.#fail(error);
        this.#queue.requeue();
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
    this.#writer.forgetAttempt();
    const cause = error as Error & { code: string };
    if (batch.rewrite && batch.appends.length === 0) {
      this.#search.reset();
      this.#refuseRewrite(
        new RecordsWriteError(
          `PostgreSQL refused a record of the rewrite (SQLSTATE ${cause.code}: ${cause.message})`,
          { cause },
        ),
      );
      this.#progress.discard(this.#queue.requeue({ dropRewrite: true }));
      return;
    }
    if (!batch.rewrite && batch.appends.length === 1) {
      const recordType = (JSON.parse((batch.appends[0] as Row).line) as { type?: string }).type;
      this.#search.reset();
      this.#progress.report(
        new RecordsWriteError(
          `PostgreSQL refused record ${JSON.stringify(recordType)} of session ${this.sessionId} ` +
            `(SQLSTATE ${cause.code}: ${cause.message}). It was not stored; the records before ` +
            'and after it were. Check the table for constraints or triggers that refuse it.',
          { cause },
        ),
        { kind: 'record-refused', ...(recordType !== undefined && { recordType }) },
      );
      this.#progress.discard(this.#queue.drop());
      return;
    }
    this.#search.halve(batch);
    this.#queue.requeue();
  }

  #fail(error: unknown): void {
    this.#progress.fail(
      error,
      (cause) =>
        `Writing session ${this.sessionId} failed (${cause.message}); ${this.#queue.queuedOperations + (this.#queue.inflight?.appends.length ?? 0)} records ` +
        'stay queued in order and are retried on the next flush().',
    );
  }

  /**
   * A rewrite the store cannot hold is dropped whole and the old log kept: reported once, and
   * the next flush() rejects with it (as on the memory backend). What was queued before it goes
   * back to the queue (`OperationQueue.requeue({ dropRewrite: true })`).
   */
  #refuseRewrite(error: RecordsSerializeError | RecordsInvalidError | RecordsWriteError): void {
    const recordType = 'recordType' in error ? error.recordType : undefined;
    this.#progress.report(error, {
      kind: 'record-refused',
      ...(recordType !== undefined && { recordType }),
    });
    this.#progress.latchRefusal(
      new RecordsWriteError(
        `The rewrite of session ${this.sessionId} was refused and the old log kept: ${error.message}`,
        { cause: error },
      ),
    );
  }
}

import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  failureOf,
  OperationQueue,
  PendingSnapshots,
  WriterLoop,
} from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  assertSessionId,
  type RecordsBatch,
  RecordsClosedError,
  type RecordsErrorHandler,
  type RecordsPosition,
  type SnapshotToWrite,
  type StoredSnapshot,
} from '@agent-records/types';
import type pg from 'pg';
import { poolFrom } from './client.js';
import { pgPosition, readView } from './reads.js';
import { ensureSchema } from './schema.js';
import { loadSnapshot, storeSnapshot } from './snapshots.js';
import { qualified, type TableNames } from './sql.js';
import { storableRecord } from './storable.js';
import { PendingTitle } from './title.js';
import { WriteTurn } from './write-turn.js';
import { type Row, SessionWriter, unwrittenCount, unwrittenRecords } from './writer.js';

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
  readonly #title = new PendingTitle();
  readonly #turn: WriteTurn<R>;
  readonly #snapshots: PendingSnapshots;

  #closed = false;
  /** The close() in progress: while it runs, the writer may make a pool to retry on. */
  #closing: Promise<void> | null = null;

  constructor(sessionId: string, options: PostgresAgentRecordPersistenceOptions = {}) {
    assertSessionId(sessionId);
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
    this.#progress = new WriterLoop(errors, () => this.#turn.run());
    this.#writer = new SessionWriter(sessionId, this.#names, this.#queue);
    this.#snapshots = new PendingSnapshots({
      errors,
      write: async (ready) => {
        await this.#prepare();
        await storeSnapshot(this.#connections(), this.#names, sessionId, ready);
      },
      log: `session ${sessionId}`,
    });
    this.#turn = new WriteTurn({
      sessionId,
      queue: this.#queue,
      writer: this.#writer,
      progress: this.#progress,
      title: this.#title,
      snapshots: this.#snapshots,
      connections: () => this.#connections(),
      prepare: () => this.#prepare(),
    });
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
    // The summary's bytes: the line and its newline (as `lineBytes` counts it), not measured twice.
    this.#queue.append({ line, time, bytes: bytes + 1 }, bytes);
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
    this.#turn.rewriteQueued();
    // The rewrite's transaction deletes the stored snapshot; those still queued are of the old log.
    this.#snapshots.invalidate('the log is rewritten');
    this.#progress.enqueue();
    this.#progress.schedule();
  }

  /**
   * The snapshot capability (see `AgentRecordPersistence.writeSnapshot`, and the backend kit's
   * `PendingSnapshots`): covers every append and rewrite queued before the call; stored in the
   * snapshots table once those rows are committed and its data is made, at their end
   * `{ seq, generation }`, in one statement of its own (appends keep being written meanwhile).
   * Dropped as a `warning` when its data rejects, its write fails, or a rewrite comes after it.
   */
  writeSnapshot(snapshot: SnapshotToWrite): void {
    if (this.#closed) {
      this.#snapshots.refuse(snapshot, 'it was asked for after close()');
      return;
    }
    if (this.#progress.refusal) {
      this.#snapshots.refuse(snapshot, 'another writer changed the session');
      return;
    }
    this.#snapshots.request(snapshot, this.#queue.mark());
    // The writer gives it its position, even when nothing else is queued.
    this.#progress.wake();
  }

  /**
   * The session's snapshot, or null (none, or it cannot be read: that is reported as a
   * `warning`). Not checked against the log: `readFrom(snapshot.position)` does that.
   */
  async readSnapshot(): Promise<StoredSnapshot | null> {
    try {
      await this.#prepare();
      return await loadSnapshot(this.#connections(), this.#names, this.sessionId);
    } catch (error) {
      if (error instanceof RecordsClosedError) throw error;
      this.#progress.report(
        new Error(
          `The snapshot of session ${this.sessionId} could not be read (${(error as Error).message}); ` +
            'a resume replays the log from the start.',
          { cause: error },
        ),
        { kind: 'warning' },
      );
      return null;
    }
  }

  /**
   * The session's title, shown by the store's `list()`: queued like an append and written with
   * the next batch, in the sessions row (not in the log). U+0000, which a PostgreSQL `text`
   * cannot hold, is stored as U+FFFD.
   */
  setTitle(title: string): void {
    if (this.#closed)
      throw new RecordsClosedError(`Session ${this.sessionId} is closed; open it again to write.`);
    if (typeof title !== 'string') {
      throw new TypeError(`setTitle takes a string; got ${typeof title}. Nothing was stored.`);
    }
    this.#title.set(title.replaceAll('\u0000', '\ufffd'));
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
    const snapshots = this.#snapshots.settled(); // those asked for before this flush
    await this.#progress.waitForAll();
    await snapshots;
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
      // A run or a snapshot write still going must not hold a client while its pool ends.
      await this.#progress.running;
      await this.#snapshots.idle();
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
    for await (const batch of readView(this.#source(), null)) yield batch.records;
  }

  /**
   * The records after `position` (`{ seq, generation }`, from `readFrom` or `readSnapshot`; null:
   * from the start), as `read()` sees them: committed rows in batches of at most 1000, each with
   * the position after its last row, then one batch of what this writer has not committed yet
   * (`end: null`). A position of another generation (the log was rewritten, or the session
   * deleted and written again), beyond the log's end, or of a log a queued rewrite replaces
   * makes the first `next()` reject with `RecordsPositionError`, before anything is yielded.
   */
  async *readFrom(position: RecordsPosition | null): AsyncIterable<RecordsBatch<R>> {
    const from = position === null ? null : pgPosition(this.sessionId, position);
    await this.#prepare();
    const unwritten: R[] = [];
    for await (const batch of readView(this.#source(), from)) {
      if (batch.end === null) unwritten.push(...batch.records);
      else yield batch;
    }
    if (unwritten.length > 0) yield { records: unwritten, end: null };
  }

  #source() {
    return {
      sessionId: this.sessionId,
      names: this.#names,
      writer: this.#writer,
      queue: this.#queue,
      progress: this.#progress,
      connections: () => this.#connections(),
    };
  }

  #prepare(): Promise<void> {
    if (!this.#ensure) return Promise.resolve();
    this.#ready ??= ensureSchema(this.#connections(), this.#tables).catch((error) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }
}

import { randomUUID } from 'node:crypto';
import { serializeRecord, WriterLoop as WriteProgress } from '@agent-records/backend-kit';
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
import { checkout, poolFrom } from './client.js';
import { ensureSchema, qualified, type TableNames } from './schema.js';
import { isDataRefusal, storableRecord } from './storable.js';

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

const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Rows per INSERT statement; a batch of any size is still one transaction. */
const ROWS_PER_STATEMENT = 5000;
const PAGE_SIZE = 1000;

interface Segment<R> {
  rewrite: readonly R[] | null;
  /**
   * With a rewrite: what was queued before it. Replaced once the rewrite lands; written as if
   * the rewrite had never been asked for when it is refused.
   */
  before: Segment<R>[];
  lines: string[];
  /** Each line's `time` (epoch ms) for the `time` column, index for index with `lines`. */
  times: Array<number | null>;
}

/** A batch sent to the server whose outcome is not known yet (or failed). */
interface Attempt {
  batchId: string;
  /** The head and generation the batch expected; its committed result is `newHead`. */
  newHead: number;
  rewrite: boolean;
}

const defaultOnError: RecordsErrorHandler = (error, info) => {
  console.error(`[agent-records] ${info.kind}: ${error.message}`);
};

/**
 * An agent-records log in PostgreSQL: one row per record (session id, per-session sequence
 * number, the record as jsonb, its time). Appends are group-committed as one multi-row INSERT per
 * batch in one transaction; the session's head sequence number is moved with a compare-and-set,
 * so a second writer is fenced off with `RecordsConflictError`; a retry after a lost connection
 * checks whether the batch had committed, so nothing is written twice.
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
  readonly #onError: RecordsErrorHandler;
  readonly #maxPendingBytes: number;
  readonly #token = randomUUID();
  #batchNo = 0;
  #ready: Promise<void> | null = null;

  #queue: Segment<R>[] = [emptySegment()];
  #inflight: Segment<R> | null = null;
  readonly #progress: WriteProgress;
  /** A refused rewrite the next flush() still has to report. */
  #refusedRewrite: RecordsWriteError | null = null;

  /** The committed head sequence number and generation this writer builds on (null: unknown yet). */
  #head: number | null = null;
  #generation = 0;
  /**
   * After the server refused a batch for a data reason: at most `limit` appends per batch until
   * the refused row is found, or the `remaining` appends of the refused batch are written.
   */
  #isolation: { limit: number; remaining: number } | null = null;
  /** A batch that may or may not have committed: checked before anything else is written. */
  #uncertain: Attempt | null = null;

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
    this.#onError = options.onError ?? defaultOnError;
    this.#progress = new WriteProgress(this.#onError, () => this.#run());
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
    const segment = this.#queue[this.#queue.length - 1] as Segment<R>;
    segment.lines.push(line);
    segment.times.push(time);
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
    const before = this.#queue.filter((segment) => operationsIn(segment) > 0);
    this.#queue = [{ rewrite: records.slice(), before, lines: [], times: [] }];
    this.#isolation = null;
    this.#progress.enqueue();
    this.#progress.schedule();
  }

  /**
   * The error-handler capability (see `AgentRecordPersistence.setErrorHandler`): `AgentRecords`
   * subscribes its `onError` here; it replaces the default printer for every later report.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#progress.setErrorHandler(handler);
  }

  async flush(): Promise<void> {
    // A flush during a failure episode is the retry.
    await this.#progress.waitForAll();
    // Once per refused rewrite, after everything before this flush was written.
    const refused = this.#refusedRewrite;
    if (refused) {
      this.#refusedRewrite = null;
      throw refused;
    }
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
      let failure: unknown = null;
      try {
        await this.flush();
      } catch (error) {
        failure = error;
      }
      // A run still going must not hold a client while its pool ends.
      await this.#progress.running;
      await this.#release();
      if (failure !== null) throw failure;
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
          `to read, or call close() again to retry writing its ${this.#unwrittenCount()} unwritten records.`,
      );
    }
    this.#pool = poolFrom({ connectionString: this.#connectionString });
    return this.#pool;
  }

  /** Records this writer could not write because another writer took the session (after a conflict). */
  unwrittenRecords(): R[] {
    const out: R[] = [];
    for (const segment of this.#inflight ? [this.#inflight, ...this.#queue] : this.#queue) {
      if (segment.rewrite) out.push(...segment.rewrite);
      for (const line of segment.lines) out.push(JSON.parse(line) as R);
    }
    return out;
  }

  async *read(): AsyncIterable<R> {
    for await (const batch of this.readBatches()) {
      for (const record of batch) yield record;
    }
  }

  /**
   * The records in pages, read with keyset pagination inside one REPEATABLE READ transaction (a
   * consistent snapshot, constant memory), then whatever this writer has not committed yet.
   */
  async *readBatches(): AsyncIterable<readonly R[]> {
    await this.#prepare();
    const snapshot = this.#snapshot();
    if (!snapshot.base) {
      const client = await checkout(this.#connections());
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        // Each page must walk the primary key from the last seq. On a freshly filled table the
        // statistics say "a few rows" and the planner picks a bitmap scan that reads every later
        // row of the session per page (50 ms instead of 1 ms per page): rule that out here.
        await client.query('SET LOCAL enable_bitmapscan = off');
        await client.query('SET LOCAL enable_seqscan = off');
        const session = await client.query<{ head_seq: string; generation: string }>(
          `SELECT head_seq, generation FROM ${this.#names.sessions} WHERE session_id = $1`,
          [this.sessionId],
        );
        const row = session.rows[0];
        const dbHead = row ? Number(row.head_seq) : 0;
        const limit = snapshot.head ?? dbHead;
        if (this.#head === null && !this.#progress.running && this.#queuedOps() === 0) {
          // A replay fences the writer: its first write expects the log it has just read.
          this.#head = dbHead;
          this.#generation = row ? Number(row.generation) : 0;
        }
        let last = 0;
        for (;;) {
          const page = await client.query<{ seq: string; record: string }>(
            `SELECT seq, COALESCE(record_json, record::text) AS record FROM ${this.#names.records}
             WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY session_id, seq LIMIT ${PAGE_SIZE}`,
            [this.sessionId, last, limit],
          );
          if (page.rows.length === 0) break;
          last = Number((page.rows[page.rows.length - 1] as { seq: string }).seq);
          yield page.rows.map((r) => JSON.parse(r.record) as R);
          if (page.rows.length < PAGE_SIZE) break;
        }
        await client.query('COMMIT');
      } catch (error) {
        broken = true;
        throw error;
      } finally {
        if (broken) {
          await client.query('ROLLBACK').catch(() => {});
        }
        client.release(broken ? true : undefined);
      }
    } else {
      for (let i = 0; i < snapshot.base.length; i += PAGE_SIZE) {
        yield snapshot.base.slice(i, i + PAGE_SIZE).map((r) => JSON.parse(serializeRecord(r)) as R);
      }
    }
    for (const lines of snapshot.pending) yield lines.map((line) => JSON.parse(line) as R);
  }

  #snapshot(): { head: number | null; base: readonly R[] | null; pending: string[][] } {
    let base: readonly R[] | null = null;
    let pending: string[][] = [];
    const segments = this.#inflight ? [this.#inflight, ...this.#queue] : this.#queue;
    for (const segment of segments) {
      if (segment.rewrite) {
        base = segment.rewrite;
        pending = [];
      }
      if (segment.lines.length > 0) pending.push(segment.lines.slice());
    }
    return { head: this.#head, base, pending };
  }

  /** What `unwrittenRecords()` returns, counted: the batch in flight and everything queued. */
  #unwrittenCount(): number {
    let count = 0;
    for (const segment of this.#inflight ? [this.#inflight, ...this.#queue] : this.#queue)
      count += (segment.rewrite?.length ?? 0) + segment.lines.length;
    return count;
  }

  #queuedOps(): number {
    let ops = 0;
    for (const segment of this.#queue) ops += operationsIn(segment);
    return ops;
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
    while (this.#progress.writable) {
      const first = this.#queue[0] as Segment<R>;
      if (!first.rewrite && first.lines.length === 0) {
        if (this.#queue.length === 1) break;
        this.#queue.shift();
        continue;
      }
      try {
        await this.#prepare();
        await this.#learnHead();
      } catch (error) {
        if (error instanceof RecordsConflictError) this.#refuse(error);
        else this.#fail(error);
        return;
      }
      const head = this.#queue[0] as Segment<R>;
      if (!head.rewrite && head.lines.length === 0) continue; // a retried batch had committed
      // Take the head segment as one batch; appends arriving meanwhile start a new one.
      const segment = this.#takeBatch();
      this.#inflight = segment;
      try {
        await this.#writeBatch(segment);
        this.#inflight = null;
        if (this.#isolation) {
          // These rows were not the refused one: once all of the refused batch is, stop cutting.
          this.#isolation.remaining -= segment.lines.length;
          if (this.#isolation.remaining <= 0) this.#isolation = null;
        }
        // A rewrite that landed also completes what was queued before it (replaced).
        this.#progress.complete(operationsIn(segment));
      } catch (error) {
        // Settle the waiting flushes first: requeueing may discard work a rewrite superseded,
        // and that must not read as written.
        if (
          segment.rewrite &&
          (error instanceof RecordsSerializeError || error instanceof RecordsInvalidError)
        ) {
          this.#refuseRewrite(error);
          this.#inflight = null;
          this.#requeue(...withoutRewrite(segment));
          this.#progress.discard(1);
          continue;
        }
        if (isDataRefusal(error)) {
          this.#isolate(segment, error);
          continue;
        }
        if (error instanceof RecordsConflictError) this.#refuse(error);
        else this.#fail(error);
        this.#inflight = null;
        this.#requeue(segment);
        return;
      }
    }
  }

  /**
   * The head segment, whole; while a refused row is being isolated, only its rewrite (if any)
   * and the first `#isolation.limit` appends, the rest staying at the head of the queue.
   */
  #takeBatch(): Segment<R> {
    const head = this.#queue[0] as Segment<R>;
    const limit = this.#isolation && Math.max(head.rewrite ? 0 : 1, this.#isolation.limit);
    if (limit === null || head.lines.length <= limit) {
      this.#queue[0] = emptySegment();
      return head;
    }
    this.#queue[0] = {
      rewrite: null,
      before: [],
      lines: head.lines.slice(limit),
      times: head.times.slice(limit),
    };
    return {
      rewrite: head.rewrite,
      before: head.before,
      lines: head.lines.slice(0, limit),
      times: head.times.slice(0, limit),
    };
  }

  /**
   * The server refused a batch for a data reason (append checked what it can, but a server may
   * still refuse a row: a constraint, an encoding, a nesting limit). That is no I/O failure and
   * retrying would never end it, so it is no episode: the batch is retried in halves until the
   * one row it refuses is found, which is reported and dropped alone (a rewrite it is in is
   * refused whole and the old log kept); every other record is written, in order.
   */
  #isolate(batch: Segment<R>, error: unknown): void {
    // The server answered with an error before COMMIT: nothing of the batch committed.
    this.#uncertain = null;
    this.#inflight = null;
    const cause = error as Error & { code: string };
    if (batch.rewrite && batch.lines.length === 0) {
      this.#isolation = null;
      this.#refuseRewrite(
        new RecordsWriteError(
          `PostgreSQL refused a record of the rewrite (SQLSTATE ${cause.code}: ${cause.message})`,
          { cause },
        ),
      );
      this.#requeue(...batch.before);
      this.#progress.discard(1);
      return;
    }
    if (!batch.rewrite && batch.lines.length === 1) {
      const line = batch.lines[0] as string;
      const recordType = (JSON.parse(line) as { type?: string }).type;
      this.#isolation = null;
      this.#progress.report(
        new RecordsWriteError(
          `PostgreSQL refused record ${JSON.stringify(recordType)} of session ${this.sessionId} ` +
            `(SQLSTATE ${cause.code}: ${cause.message}). It was not stored; the records before ` +
            'and after it were. Check the table for constraints or triggers that refuse it.',
          { cause },
        ),
        { kind: 'record-refused', ...(recordType !== undefined && { recordType }) },
      );
      this.#progress.discard(1);
      return;
    }
    // Halve the batch (a rewrite with one append: the rewrite alone) and write on from its start.
    this.#isolation = {
      limit: batch.rewrite ? Math.floor(batch.lines.length / 2) : Math.ceil(batch.lines.length / 2),
      remaining: this.#isolation?.remaining ?? batch.lines.length,
    };
    this.#requeue(batch);
  }

  async #writeBatch(segment: Segment<R>): Promise<void> {
    const client = await checkout(this.#connections());
    let broken = false;
    try {
      const head = this.#head as number;
      const newHead = segment.rewrite
        ? segment.rewrite.length + segment.lines.length
        : head + segment.lines.length;
      const attempt: Attempt = {
        batchId: `${this.#token}:${++this.#batchNo}`,
        newHead,
        rewrite: segment.rewrite !== null,
      };
      await client.query('BEGIN');
      // From here until COMMIT answers, the outcome is unknown if the connection drops.
      this.#uncertain = attempt;
      if (head === 0 && this.#generation === 0) {
        // A session this writer has only read (a replay of an empty log) has no sessions row
        // yet: make it, so the compare-and-set below has a row to move. Another writer that got
        // there first either left it at 0 (no conflict) or moved it (the update below fences us).
        await client.query(
          `INSERT INTO ${this.#names.sessions} (session_id) VALUES ($1) ON CONFLICT (session_id) DO NOTHING`,
          [this.sessionId],
        );
      }
      const moved = await client.query(
        `UPDATE ${this.#names.sessions}
         SET head_seq = $2, generation = generation + $5, last_batch = $3, updated_at = now()
         WHERE session_id = $1 AND head_seq = $4 AND generation = $6`,
        [this.sessionId, newHead, attempt.batchId, head, attempt.rewrite ? 1 : 0, this.#generation],
      );
      if (moved.rowCount !== 1) {
        await client.query('ROLLBACK');
        this.#uncertain = null;
        throw this.#conflictError();
      }
      let seq = 0;
      if (segment.rewrite) {
        await client.query(`DELETE FROM ${this.#names.records} WHERE session_id = $1`, [
          this.sessionId,
        ]);
        const records = segment.rewrite;
        for (let i = 0; i < records.length; i += ROWS_PER_STATEMENT) {
          const lines: string[] = [];
          const times: Array<number | null> = [];
          for (const record of records.slice(i, i + ROWS_PER_STATEMENT)) {
            const storable = storableRecord(record);
            lines.push(storable.line);
            times.push(storable.time);
          }
          await this.#insert(client, seq + 1, lines, times);
          seq += lines.length;
        }
      } else {
        seq = head;
      }
      for (let i = 0; i < segment.lines.length; i += ROWS_PER_STATEMENT) {
        const lines = segment.lines.slice(i, i + ROWS_PER_STATEMENT);
        await this.#insert(client, seq + 1, lines, segment.times.slice(i, i + ROWS_PER_STATEMENT));
        seq += lines.length;
      }
      await client.query('COMMIT');
      this.#uncertain = null;
      this.#head = newHead;
      if (attempt.rewrite) this.#generation++;
    } catch (error) {
      if (!(error instanceof RecordsConflictError)) {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        // A server's refusal of a row leaves a usable connection; anything else may not.
        broken = !(rolledBack && isDataRefusal(error));
      }
      throw error;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  async #insert(
    client: pg.PoolClient,
    firstSeq: number,
    lines: string[],
    times: Array<number | null>,
  ) {
    const seqs = lines.map((_, i) => firstSeq + i);
    const exact: Array<string | null> = [];
    const queryable = lines.map((line) => {
      if (!line.includes('\\u0000')) {
        exact.push(null);
        return line;
      }
      exact.push(line);
      return line.replace(NUL_ESCAPE, '$1\\ufffd');
    });
    await client.query(
      `INSERT INTO ${this.#names.records} (session_id, seq, record, record_json, time)
       SELECT $1, s, r::jsonb, e, to_timestamp(t / 1000)
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::float8[]) AS x(s, r, e, t)`,
      [this.sessionId, seqs, queryable, exact, times],
    );
  }

  /**
   * Learns the session's head before the first write, and after a batch whose outcome is unknown
   * (the connection dropped around COMMIT) finds out whether it committed: the sessions row names
   * the last batch that moved the head.
   */
  async #learnHead(): Promise<void> {
    if (this.#head !== null && !this.#uncertain) return;
    const client = await checkout(this.#connections());
    let broken = false;
    try {
      await this.#reconcile(client);
    } catch (error) {
      broken = !(error instanceof RecordsConflictError);
      throw error;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  async #reconcile(client: pg.PoolClient): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#names.sessions} (session_id) VALUES ($1) ON CONFLICT (session_id) DO NOTHING`,
      [this.sessionId],
    );
    const { rows } = await client.query<{
      head_seq: string;
      generation: string;
      last_batch: string | null;
    }>(
      `SELECT head_seq, generation, last_batch FROM ${this.#names.sessions} WHERE session_id = $1`,
      [this.sessionId],
    );
    const row = rows[0] as { head_seq: string; generation: string; last_batch: string | null };
    const dbHead = Number(row.head_seq);
    const dbGeneration = Number(row.generation);
    if (this.#head === null) {
      this.#head = dbHead;
      this.#generation = dbGeneration;
      return;
    }
    const attempt = this.#uncertain as Attempt;
    this.#uncertain = null;
    if (row.last_batch === attempt.batchId) {
      // It committed. Mark what it held as written and write only the rest.
      this.#acknowledgeCommitted(attempt);
      this.#head = dbHead;
      this.#generation = dbGeneration;
      return;
    }
    if (dbHead !== this.#head || dbGeneration !== this.#generation) throw this.#conflictError();
  }

  /** A retried batch had committed: drop from the queue head what it wrote. */
  #acknowledgeCommitted(attempt: Attempt): void {
    const head = this.#queue[0] as Segment<R>;
    let written = attempt.rewrite
      ? attempt.newHead - (head.rewrite?.length ?? 0)
      : attempt.newHead - (this.#head as number);
    let operations = 0;
    if (attempt.rewrite && head.rewrite) {
      operations += 1 + head.before.reduce((sum, segment) => sum + operationsIn(segment), 0);
      head.rewrite = null;
      head.before = [];
    }
    written = Math.max(0, Math.min(written, head.lines.length));
    head.lines = head.lines.slice(written);
    head.times = head.times.slice(written);
    this.#progress.complete(operations + written);
  }

  #conflictError(): RecordsConflictError {
    return new RecordsConflictError(
      `Session ${this.sessionId} was changed by another writer: its head sequence number is not ` +
        `the ${this.#head} this writer built on. This writer stopped; its ${this.#unwrittenCount()} ` +
        'unwritten records are kept (unwrittenRecords()). Replay the session before writing again.',
    );
  }

  /** Puts segments that were taken out (a failed or refused batch) back at the queue's head. */
  #requeue(...segments: Segment<R>[]): void {
    const taken = segments.filter((segment) => operationsIn(segment) > 0);
    const last = taken.pop();
    if (!last) return;
    const head = this.#queue[0] as Segment<R>;
    if (head.rewrite) {
      // A rewrite queued meanwhile replaces them once it lands; if it is refused, they are written.
      head.before = [...taken, last, ...head.before];
      return;
    }
    this.#queue = [
      ...taken,
      {
        rewrite: last.rewrite,
        before: last.before,
        lines: last.lines.concat(head.lines),
        times: last.times.concat(head.times),
      },
      ...this.#queue.slice(1),
    ];
  }

  #fail(error: unknown): void {
    this.#progress.fail(
      error,
      (cause) =>
        `Writing session ${this.sessionId} failed (${cause.message}); ${this.#queuedOps() + (this.#inflight?.lines.length ?? 0)} records ` +
        'stay queued in order and are retried on the next flush().',
    );
  }

  #refuse(error: RecordsConflictError): void {
    this.#progress.refuse(error);
  }

  /**
   * A rewrite the store cannot hold is dropped whole and the old log kept: reported once, and
   * the next flush() rejects with it (as on the memory backend). What was queued before it goes
   * back to the queue (see `withoutRewrite`).
   */
  #refuseRewrite(error: RecordsSerializeError | RecordsInvalidError | RecordsWriteError): void {
    const recordType = 'recordType' in error ? error.recordType : undefined;
    this.#progress.report(error, {
      kind: 'record-refused',
      ...(recordType !== undefined && { recordType }),
    });
    this.#refusedRewrite = new RecordsWriteError(
      `The rewrite of session ${this.sessionId} was refused and the old log kept: ${error.message}`,
      { cause: error },
    );
  }
}

function emptySegment<R>(): Segment<R> {
  return { rewrite: null, before: [], lines: [], times: [] };
}

/** Operations a segment holds for the write progress: its rewrite, what it replaces, its appends. */
function operationsIn<R>(segment: Segment<R>): number {
  if (!segment.rewrite) return segment.lines.length;
  let operations = 1 + segment.lines.length;
  for (const replaced of segment.before) operations += operationsIn(replaced);
  return operations;
}

/** A refused rewrite's segment as if it had never been asked for: what was before it, then its appends. */
function withoutRewrite<R>(segment: Segment<R>): Segment<R>[] {
  return [
    ...segment.before,
    { rewrite: null, before: [], lines: segment.lines, times: segment.times },
  ];
}

/** A JSON `\u0000` escape (not an escaped backslash followed by `u0000`). */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

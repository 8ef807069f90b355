import { createHash, randomUUID } from 'node:crypto';
import type { OperationQueue, QueuedBatch } from '@agent-records/backend-kit';
import { RecordsConflictError } from '@agent-records/types';
import type pg from 'pg';
import { withClient } from './client.js';
import { copyable, copyBatch, copyRows } from './copy-rows.js';
import { BEGIN, COMMIT, type QualifiedNames, ROLLBACK, sessionStatements } from './sql.js';
import { isDataRefusal, jsonbSubstitute, metadataCreatedAt, storableRecord } from './storable.js';

/**
 * One queued append: its JSON line, its `time` (epoch ms) for the `time` column, and its size
 * in the session summary (`lineBytes`).
 */
export interface Row {
  line: string;
  time: number | null;
  bytes: number;
}

/** What a row's INSERT needs of it. */
type RowText = Pick<Row, 'line' | 'time'>;

/** What a record adds to the summary's `bytes`: its UTF-8 JSON line and a newline, as in JSONL. */
export function lineBytes(line: string): number {
  return Buffer.byteLength(line, 'utf8') + 1;
}

/** The kit's queue as this backend uses it: rewrites hold records, appends hold rows. */
export type RowQueue<R> = OperationQueue<R, Row>;
export type RowBatch<R> = QueuedBatch<R, Row>;

/** The records a queue still holds, as its writer meant the log to be. */
export function unwrittenRecords<R>(queue: RowQueue<R>): R[] {
  const records: R[] = [];
  for (const batch of queue.unwritten()) {
    if (batch.rewrite) records.push(...batch.rewrite);
    for (const row of batch.appends) records.push(JSON.parse(row.line) as R);
  }
  return records;
}

/** How many records a queue still holds: those its writer has not written. */
export function unwrittenCount<R>(queue: RowQueue<R>): number {
  let count = 0;
  for (const batch of queue.unwritten())
    count += (batch.rewrite?.length ?? 0) + batch.appends.length;
  return count;
}

/**
 * The name of a prepared statement: one per text (the tables' names are in it), so that
 * persistences on other tables sharing a connection never use each other's.
 */
export function preparedName(kind: string, text: string): string {
  return `agent_records_${kind}_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
}

/**
 * From this many rows a batch goes in a transaction by COPY (BEGIN, fence, COPY, COMMIT sent in
 * one go, but the rows wait for the server to ask for them: two round trips, paid back by COPY's
 * lower cost per row); below it, in one statement.
 */
const COPY_FROM_ROWS = 1000;

/** The generation of a session whose sessions row a read did not find (no log yet). */
export const NO_SESSION = -1;

/** Rows per INSERT statement; a batch of any size is still one transaction. */
const ROWS_PER_STATEMENT = 5000;

/** A batch sent to the server whose outcome is not known yet (or failed). */
interface Attempt {
  batchId: string;
  /** The head and generation the batch expected; its committed result is `newHead`. */
  newHead: number;
}

/**
 * Writes one session's batches, each in one transaction that moves the session's head with a
 * compare-and-set (the fence against a second writer). Knows the head and generation this
 * writer builds on, and, after a batch whose COMMIT answer was lost, finds out whether it
 * committed so that nothing is written twice.
 */
export class SessionWriter<R> {
  readonly #sessionId: string;
  readonly #sql: ReturnType<typeof sessionStatements>;
  readonly #appendStatementName: string;
  /** The records table's quoted name, for COPY. */
  readonly #records: string;
  readonly #queue: RowQueue<R>;
  readonly #token = randomUUID();
  #batchNo = 0;
  /** The committed head sequence number and generation this writer builds on (null: unknown yet). */
  #head: number | null = null;
  #generation = 0;
  /** A batch that may or may not have committed: checked before anything else is written. */
  #uncertain: Attempt | null = null;

  constructor(sessionId: string, names: QualifiedNames, queue: RowQueue<R>) {
    this.#sessionId = sessionId;
    this.#sql = sessionStatements(names);
    this.#records = names.records;
    this.#appendStatementName = preparedName('append', this.#sql.appendBatch);
    this.#queue = queue;
  }

  /** The head this writer builds on, or null before it learned it. */
  get head(): number | null {
    return this.#head;
  }

  /**
   * The generation this writer builds on (each sessions row and each rewrite takes a new one:
   * see `upgradeTo3`), or `NO_SESSION` after a read found no sessions row.
   */
  get generation(): number {
    return this.#generation;
  }

  /** True when `batchId` (a sessions row's `last_batch`) names a batch of this writer. */
  wrote(batchId: string | null): boolean {
    return batchId?.startsWith(`${this.#token}:`) ?? false;
  }

  /** A replay fences the writer: its first write expects the log it has just read. */
  adoptHead(head: number, generation: number): void {
    this.#head = head;
    this.#generation = generation;
  }

  /** The server answered with an error before COMMIT: nothing of the batch committed. */
  forgetAttempt(): void {
    this.#uncertain = null;
  }

  /**
   * Learns the session's head before the first write, and after a batch whose outcome is unknown
   * (the connection dropped around COMMIT) finds out whether it committed: the sessions row names
   * the last batch that moved the head. Returns the operations found committed (for the writer
   * loop's `complete`), or null when there was no such batch.
   */
  async learnHead(pool: pg.Pool): Promise<number | null> {
    if (this.#head !== null && this.#generation !== NO_SESSION && !this.#uncertain) return null;
    return withClient(
      pool,
      (client) => this.#reconcile(client),
      (error) => error instanceof RecordsConflictError,
    );
  }

  async #reconcile(client: pg.PoolClient): Promise<number | null> {
    type HeadRow = { head_seq: string; generation: string; last_batch: string | null };
    let { rows } = await client.query<HeadRow>(this.#sql.ensureAndSelectHead, [this.#sessionId]);
    if (rows.length === 0)
      ({ rows } = await client.query<HeadRow>(this.#sql.selectHeadAndBatch, [this.#sessionId]));
    const row = rows[0] as HeadRow;
    const dbHead = Number(row.head_seq);
    const dbGeneration = Number(row.generation);
    if (this.#head === null) {
      this.adoptHead(dbHead, dbGeneration);
      return null;
    }
    if (this.#uncertain === null) {
      // A read found no sessions row (an empty log): the row just made, or one another writer
      // made meanwhile, is that log as long as nothing was written to it; it has a generation
      // of its own, which this writer takes.
      if (dbHead !== this.#head) throw this.conflictError();
      this.adoptHead(dbHead, dbGeneration);
      return null;
    }
    const attempt = this.#uncertain;
    this.#uncertain = null;
    if (row.last_batch === attempt.batchId) {
      // It committed (a transaction is all or nothing): the whole batch, requeued when its
      // COMMIT answer was lost, is written; only the rest is left to write.
      const operations = this.#queue.acknowledgeRequeued();
      this.adoptHead(dbHead, dbGeneration);
      return operations;
    }
    if (dbHead !== this.#head || dbGeneration !== this.#generation) throw this.conflictError();
    return null;
  }

  /**
   * Writes `batch` in one transaction on the head this writer knows (learnHead first), with the
   * session's new `title` if one is given (a batch may hold nothing else).
   */
  async write(pool: pg.Pool, batch: RowBatch<R>, title: string | null = null): Promise<void> {
    let rolledBack = false;
    await withClient(
      pool,
      async (client) => {
        try {
          await this.#transaction(client, batch, title);
        } catch (error) {
          if (!(error instanceof RecordsConflictError)) {
            rolledBack = await client.query(ROLLBACK).then(
              () => true,
              () => false,
            );
          }
          throw error;
        }
      },
      // A conflict, or a server's refusal of a row, leaves a usable connection; anything else may not.
      (error) => error instanceof RecordsConflictError || (rolledBack && isDataRefusal(error)),
    );
  }

  async #transaction(
    client: pg.PoolClient,
    batch: RowBatch<R>,
    title: string | null,
  ): Promise<void> {
    const head = this.#head as number;
    const rewrite = batch.rewrite !== null;
    const newHead = batch.rewrite
      ? batch.rewrite.length + batch.appends.length
      : head + batch.appends.length;
    const attempt: Attempt = { batchId: `${this.#token}:${++this.#batchNo}`, newHead };
    // The rewrite's rows are made before anything is sent (a record that cannot be serialised
    // refuses the rewrite with no transaction begun); their bytes go into the summary.
    const rewritten = batch.rewrite ? batch.rewrite.map((record) => storableRecord(record)) : [];
    let bytes = 0;
    for (const row of rewritten) bytes += lineBytes(row.line);
    for (const row of batch.appends) bytes += row.bytes;
    const fence = [
      this.#sessionId,
      newHead,
      attempt.batchId,
      head,
      rewrite ? 1 : 0,
      this.#generation,
      bytes,
      title,
      // The batch that writes row 1 tells when the log was started, if its record says so.
      rewrite || head === 0
        ? metadataCreatedAt(rewritten[0]?.line ?? batch.appends[0]?.line)
        : null,
    ];
    // From here until the server answers, the outcome is unknown if the connection drops.
    this.#uncertain = attempt;
    const generation = rewrite
      ? await this.#writeInTransaction(client, fence, rewritten, batch.appends)
      : batch.appends.length < COPY_FROM_ROWS
        ? await this.#appendAtOnce(client, fence, batch.appends)
        : copyable(batch.appends)
          ? await this.#copyAtOnce(client, fence, batch.appends)
          : await this.#writeInTransaction(client, fence, rewritten, batch.appends);
    this.#uncertain = null;
    if (generation === null) throw this.conflictError();
    this.#head = newHead;
    this.#generation = generation;
  }

  /**
   * Appends in one autocommitted statement: the fence and the rows together (one round trip;
   * a single statement is atomic). Answers the generation (unchanged), or null when the fence
   * refused it: nothing was written.
   */
  async #appendAtOnce(
    client: pg.PoolClient,
    fence: unknown[],
    appends: readonly RowText[],
  ): Promise<number | null> {
    const head = fence[3] as number;
    const rows = this.#rows(head + 1, appends);
    const { rows: answer } = await client.query<{ moved: number }>({
      // Prepared once per connection: the server plans the statement once, not per flush.
      name: this.#appendStatementName,
      text: this.#sql.appendBatch,
      values: [...fence, ...rows],
    });
    return answer[0]?.moved === 1 ? this.#generation : null;
  }

  /**
   * A large batch of appends by COPY, its transaction sent in one go (see `copyBatch`). Answers the
   * generation (unchanged), or null when the fence refused it (rolled back: nothing was written).
   */
  async #copyAtOnce(
    client: pg.PoolClient,
    fence: unknown[],
    appends: readonly RowText[],
  ): Promise<number | null> {
    const generation = await copyBatch(client, {
      fence: this.#sql.moveHead,
      fenceValues: fence,
      table: this.#records,
      sessionId: this.#sessionId,
      firstSeq: (fence[3] as number) + 1,
      rows: appends,
    });
    if (generation === null) await client.query(ROLLBACK);
    return generation;
  }

  /**
   * A rewrite, or a batch too large for one statement, in one transaction: the fence first, then
   * the rows. Answers the generation (a rewrite's new one), or null when the fence refused it
   * (rolled back: nothing was written).
   */
  async #writeInTransaction(
    client: pg.PoolClient,
    fence: unknown[],
    rewritten: readonly RowText[],
    appends: readonly RowText[],
  ): Promise<number | null> {
    await client.query(BEGIN);
    const moved = await client.query<{ generation: string }>(this.#sql.moveHead, fence);
    const row = moved.rows[0];
    if (row === undefined) {
      await client.query(ROLLBACK);
      return null;
    }
    let seq = fence[3] as number;
    if (fence[4] === 1) {
      // The snapshot goes with the log it was taken of, in this transaction: none can outlive it.
      await client.query(this.#sql.deleteSnapshot, [this.#sessionId]);
      await client.query(this.#sql.deleteRecords, [this.#sessionId]);
      seq = 0;
    }
    for (const rows of [rewritten, appends]) {
      if (rows.length >= COPY_FROM_ROWS && copyable(rows)) {
        await copyRows(client, this.#records, this.#sessionId, seq + 1, rows);
        seq += rows.length;
        continue;
      }
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        const slice = rows.slice(i, i + ROWS_PER_STATEMENT);
        await client.query(this.#sql.insertRecords, [
          this.#sessionId,
          ...this.#rows(seq + 1, slice),
        ]);
        seq += slice.length;
      }
    }
    await client.query(COMMIT);
    return Number(row.generation);
  }

  /** The unnest arrays of `rows` numbered from `firstSeq`: seqs, jsonb texts, exact JSON, times. */
  #rows(firstSeq: number, rows: readonly RowText[]): unknown[] {
    const stored = storedRows(rows);
    return [
      stored.map((_, i) => firstSeq + i),
      stored.map((row) => row.queryable),
      stored.map((row) => row.exact),
      stored.map((row) => row.time),
    ];
  }

  conflictError(): RecordsConflictError {
    return new RecordsConflictError(
      `Session ${this.#sessionId} was changed by another writer: its head sequence number is not ` +
        `the ${this.#head} this writer built on. This writer stopped; its ${unwrittenCount(this.#queue)} ` +
        'unwritten records are kept (unwrittenRecords()). Replay the session before writing again.',
    );
  }
}

/** Each row's jsonb text, and its exact JSON when that differs (see `jsonbSubstitute`). */
function storedRows(rows: readonly RowText[]) {
  return rows.map(({ line, time }) => {
    const queryable = jsonbSubstitute(line);
    return queryable === null
      ? { queryable: line, exact: null, time }
      : { queryable, exact: line, time };
  });
}

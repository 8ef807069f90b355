import type { AgentRecordEnvelope } from './records.js';

/**
 * Where records are kept. Implement this to write your own backend; run
 * `@agent-records/persistence-tests` against it to check the contract.
 *
 * - `append` queues and returns at once (no I/O on the caller's stack). It snapshots the record
 *   at call time. It throws only for misuse (`RecordsClosedError`, `RecordsSerializeError`,
 *   `RecordsInvalidError`) or a bound (`RecordsOverflowError`), never because of I/O.
 * - A failed write is a failure episode: records stay queued in order, `onError` hears of it once,
 *   `flush()` rejects with `RecordsWriteError` and retries each time it is called.
 * - `read()` streams every durable and pending record in order, in memory independent of length.
 */
export interface AgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecordEnvelope> {
  /** Every durable and pending record, in append order, streamed. A missing log reads as empty. */
  read(): AsyncIterable<R>;
  /** Queues one record; returns at once. */
  append(record: R): void;
  /** Replaces the whole log; atomic once flushed. */
  rewrite(records: readonly R[]): void;
  /** Resolves when every earlier append and rewrite is durable; rejects during a failure episode. */
  flush(): Promise<void>;
  /** Flushes and releases resources. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional capability: the same records as `read()`, in arrays, so a replay pays one await per
   * batch instead of one per record. Detected at run time; backends may leave it out.
   */
  readBatches?(): AsyncIterable<readonly R[]>;
  /**
   * Optional capability: the error handler. `AgentRecords` calls it in its constructor with its
   * own `onError`, so that one handler hears everything about the session, the backend's reports
   * included (write failures and their end, a refused writer, refused records, warnings such as
   * a torn tail cut off or a missing blob). The handler replaces the backend's default (printing
   * to stderr); an `onError` option the host gave the backend itself keeps hearing too. `null`
   * unsubscribes. One handler at a time: a later call replaces an earlier one. Detected at run
   * time; backends may leave it out (`ErrorReporter` of `@agent-records/backend-kit` implements it).
   */
  setErrorHandler?(handler: RecordsErrorHandler | null): void;
  /**
   * Optional capability: the records after `position` (from the start when `null`), in batches,
   * each with the position just after its last record. Durable records come first, each batch's
   * `end` a position one can read from later; records appended but not yet written come last,
   * in a batch whose `end` is `null` (they have no position yet). The position is checked against
   * the log when the iteration starts: a log rewritten, truncated, repaired or replaced since
   * makes the first `next()` reject with `RecordsPositionError` (nothing is yielded). Memory use
   * is independent of the log's length. Detected at run time; backends may leave it out.
   */
  readFrom?(position: RecordsPosition | null): AsyncIterable<RecordsBatch<R>>;
  /**
   * Optional capability: stores a snapshot covering every record appended (or rewritten) before
   * this call. Queued in order with appends and returns at once: the backend writes it only once
   * those records are durable, atomically (the previous snapshot or this one, never a torn one),
   * and names the position it covers. It never holds up the appends behind it: they are written
   * while `data` is still being made. When `data` rejects, the write fails, or a rewrite comes
   * first, the snapshot is dropped and reported as a `warning`; it never starts a failure
   * episode and never makes `flush()` reject. `flush()` resolves once every earlier snapshot is
   * written or dropped. A rewrite makes every earlier snapshot unusable (`readSnapshot` no longer
   * returns it, or its position no longer matches).
   */
  writeSnapshot?(snapshot: SnapshotToWrite): void;
  /**
   * Optional capability: the newest stored snapshot, or `null` when there is none (or it cannot
   * be read; that is reported as a `warning`). It is not checked against the log here: reading
   * from its `position` with `readFrom` does that.
   */
  readSnapshot?(): Promise<StoredSnapshot | null>;
  /**
   * Optional capability: a title for the session, kept beside the log (not in it) and shown by
   * the store's `list()`. Queued like an append; durable after the next `flush()`.
   */
  setTitle?(title: string): void;
}

/**
 * A place in one log, as its backend understands it: flat JSON data, opaque to everyone else
 * (the fs backend: a byte offset, a fingerprint of the line before it and the log's identity;
 * PostgreSQL: a sequence number and the log's generation). Store it as JSON, hand it back as is.
 */
export type RecordsPosition = Readonly<Record<string, string | number | boolean | null>>;

/** Records read by `readFrom`, with the position just after the last of them. */
export interface RecordsBatch<R extends AgentRecordEnvelope = AgentRecordEnvelope> {
  readonly records: readonly R[];
  /** Where to read on from; `null` for records appended but not yet durable. */
  readonly end: RecordsPosition | null;
}

/** What `writeSnapshot` is given. */
export interface SnapshotToWrite {
  /** How many records (metadata included) the log holds before the snapshot, as the caller counts. */
  readonly records: number;
  /**
   * The snapshot as JSON text, opaque to the backend. A promise when it is still being made (the
   * core serialises large states in slices, off the hot path).
   */
  readonly data: string | Promise<string>;
}

/** A snapshot as `readSnapshot` gives it back. */
export interface StoredSnapshot {
  /** Where the records it covers end: `readFrom(position)` yields the records after them. */
  readonly position: RecordsPosition;
  /** `records` as given to `writeSnapshot`. */
  readonly records: number;
  /** When the backend stored it (epoch ms). */
  readonly writtenAt: number;
  /** Size of `data` in UTF-8 bytes. */
  readonly bytes: number;
  /** `data` as given to `writeSnapshot`. */
  readonly data: string;
}

/**
 * The previous major of the persistence contract: `append` returned a promise, and there was no
 * `rewrite`. The core still accepts it (see `toPersistence` in `@agent-records/core`).
 */
export interface LegacyAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecordEnvelope> {
  read(): AsyncIterable<R> | Iterable<R> | Promise<Iterable<R> | AsyncIterable<R>>;
  append(record: R): Promise<void> | void;
  flush?(): Promise<void> | void;
  close?(): Promise<void> | void;
}

/**
 * What a reported error means:
 * - `write-failed`: a failure episode began; records stay queued and `flush()` rejects until a
 *   retry succeeds. Reported once per episode, however many records are queued behind it.
 * - `write-recovered`: the episode ended; every queued record is now written, once, in order.
 *   The error is the one that started the episode.
 * - `record-refused`: one record was not stored (invalid, unserialisable, after close, over a
 *   bound). Reported per record; it does not make `flush()` reject.
 * - `warning`: nothing was lost, but something needs attention (a log newer than the code, a
 *   missing blob, a rewrite that could not happen).
 */
export type RecordsErrorKind = 'write-failed' | 'write-recovered' | 'record-refused' | 'warning';

/** Context passed with each reported error. */
export interface RecordsErrorInfo {
  kind: RecordsErrorKind;
  /** The `type` of the record concerned, for `record-refused`. */
  recordType?: string;
}

/** Receives failures from the core and from backends (their `onError` option). */
export type RecordsErrorHandler = (error: Error, info: RecordsErrorInfo) => void;

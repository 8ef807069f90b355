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

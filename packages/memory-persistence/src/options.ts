import type { RecordsErrorHandler } from '@agent-records/types';

/** An operation of the in-memory backend that a test can make fail. */
export type FaultOperation = 'append' | 'flush' | 'rewrite' | 'read' | 'snapshot';

export interface InjectedFault {
  /**
   * Which operation fails: a background write of appended records, a flush, a rewrite, a read
   * (`read`, `readFrom`), a snapshot write (the snapshot is dropped and reported as a warning).
   */
  op: FaultOperation;
  /** The error it fails with (default: an `EIO`-coded Error). */
  error?: Error;
  /** How many attempts fail before the operation works again (default 1; `Infinity` for ever). */
  times?: number;
}

export interface InMemoryAgentRecordPersistenceOptions<R> {
  /** Called with each record once it is written (copied, so mutating it changes nothing). */
  onRecord?: (record: R) => void;
  /** Receives write failures (once per episode), recoveries and refused records. */
  onError?: RecordsErrorHandler;
  /**
   * Bound on queued, unwritten record bytes, in UTF-8 (default 64 MiB). `append` throws
   * `RecordsOverflowError` beyond it; the next `flush()` rejects once per burst of dropped records.
   */
  maxPendingBytes?: number;
}

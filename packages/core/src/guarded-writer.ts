import { asError, messageOf, PendingBytes } from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  AgentRecordsError,
  RecordsClosedError,
  type RecordsErrorHandler,
  RecordsInvalidError,
  RecordsOverflowError,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';

/**
 * The core's side of the persistence contract: hands records to `append` so that nothing it
 * does reaches the live agent. A refused record (invalid, unserialisable, after close) is
 * reported on its own; records dropped by the persistence's bound are one report per burst and
 * one rejected `flush()`; any other throw is a failure episode: the record and those after it
 * wait in order and each `flush()` retries them.
 */
export class GuardedWriter<R extends AgentRecordEnvelope> {
  readonly #persistence: AgentRecordPersistence<R>;
  readonly #report: RecordsErrorHandler;
  /** Records the persistence refused with a write failure, kept in order for the next flush. */
  #retry: R[] = [];
  /** The open failure episode: the error that started it. */
  #episode: { error: unknown } | null = null;
  /** Failures flush() must report once even though nothing can be retried. */
  #unreported: AgentRecordsError[] = [];
  /** Records the persistence dropped for its bound: one report per burst (see flush()). */
  readonly #dropped = new PendingBytes();

  constructor(persistence: AgentRecordPersistence<R>, report: RecordsErrorHandler) {
    this.#persistence = persistence;
    this.#report = report;
    // One handler: the backend's own reports (write failures and their end, a refused writer,
    // warnings such as a torn tail cut off or a missing blob) go to the core's onError too,
    // instead of the backend's default printer. Optional capability, detected at run time.
    if (typeof persistence.setErrorHandler === 'function') {
      try {
        persistence.setErrorHandler(report);
      } catch (error) {
        report(asError(error), { kind: 'warning' });
      }
    }
  }

  /** True while records wait here, in order, for a failed append to be retried. */
  get holdsRecords(): boolean {
    return this.#retry.length > 0;
  }

  /**
   * Hands one record over. True when it is in the persistence or waits here in order for a
   * retry; false when it was refused (reported on its own, not stored).
   */
  append(record: R): boolean {
    if (this.#retry.length > 0) {
      // Behind a failed record: keep order, and do not report each record of one episode.
      this.#retry.push(record);
      return true;
    }
    let result: unknown;
    try {
      result = this.#persistence.append(record);
    } catch (error) {
      return this.#appendFailed(record, error);
    }
    if (isPromiseLike(result)) {
      // A persistence with rewrite() whose append is still async: observe the promise so no
      // rejection goes unhandled. Later records may already be queued, so it cannot be retried
      // in order; the next flush() reports it.
      result.then(undefined, (error: unknown) => {
        const failure = new RecordsWriteError(
          `The persistence's asynchronous append failed (${messageOf(error)}); a record of type ` +
            `"${typeOf(record)}" may be missing. Make append() synchronous (queue and return).`,
          { cause: error },
        );
        this.#unreported.push(failure);
        this.#startEpisode(error);
      });
    }
    return true;
  }

  /**
   * Resolves when every record handed over so far is durable. Rejects with `RecordsWriteError`
   * (its `cause` the underlying error) while writes fail; each call retries the queued work.
   */
  flush(): Promise<void> {
    // Not an async function: one `then` on the persistence's promise costs less than an async
    // frame and its awaits, and this runs for every durable append.
    let flushed: Promise<void>;
    try {
      if (this.#retry.length > 0) this.#handOverRetries();
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      flushed = Promise.resolve(this.#persistence.flush());
    } catch (error) {
      return Promise.reject(this.#flushError(error));
    }
    return flushed.then(this.#flushed, this.#flushFailed);
  }

  /**
   * After the persistence's flush: usually nothing is owed. Kept under V8's 81 bytecodes (the
   * rest out of line) so that it is optimised at its first budget tick instead of after ~3,300
   * durable appends, a compile that stalled the append it overlapped (docs/decisions.md 12).
   */
  readonly #flushed = (): void => {
    if (this.#unreported.length > 0 || this.#episode !== null || this.#dropped.dropped > 0) {
      this.#owedAfterFlush();
    }
  };

  /** What this side still owes the host after a flush, then an episode's end. */
  #owedAfterFlush(): void {
    const unreported = this.#unreported.shift();
    if (unreported) throw unreported;
    const overflow = this.#dropped.takeOverflow();
    if (overflow) throw overflow;
    if (this.#episode) {
      const { error } = this.#episode;
      this.#episode = null;
      this.#report(asError(error), { kind: 'write-recovered' });
    }
  }

  readonly #flushFailed = (error: unknown): never => {
    throw this.#flushError(error);
  };

  #flushError(error: unknown): Error {
    // The persistence's own once-per-burst report covers the drops counted here.
    if (error instanceof RecordsOverflowError) this.#dropped.takeOverflow();
    return error instanceof AgentRecordsError
      ? error
      : new RecordsWriteError(`Flushing records failed (${messageOf(error)}).`, { cause: error });
  }

  /**
   * Hands the records kept since a failed append over again, in order (out of `flush()`, which
   * runs per durable append: its compiled code stays small). Throws `RecordsWriteError` when the
   * persistence still fails; the rest stay kept.
   */
  #handOverRetries(): void {
    while (this.#retry.length > 0) {
      const record = this.#retry[0] as R;
      try {
        this.#persistence.append(record);
      } catch (error) {
        if (isRefusal(error)) {
          this.#retry.shift();
          this.#refused(record, error);
          continue;
        }
        throw new RecordsWriteError(
          `The persistence's append failed (${messageOf(error)}); ${this.#retry.length} records ` +
            'stay queued and are retried on the next flush().',
          { cause: error },
        );
      }
      this.#retry.shift();
    }
  }

  /** Flushes and closes the persistence; rejects like `flush()`. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } catch (error) {
      if (!(error instanceof RecordsOverflowError)) throw error;
      // The report of records already dropped: nothing is left to retry, so close anyway (the
      // lock is released), then tell the host.
      await this.#persistence.close();
      throw error;
    }
    await this.#persistence.close();
  }

  #appendFailed(record: R, error: unknown): boolean {
    if (isRefusal(error)) {
      this.#refused(record, error);
      return false;
    }
    this.#retry.push(record);
    this.#startEpisode(error);
    return true;
  }

  /**
   * A record the persistence refused: reported on its own, never an episode. Records dropped by
   * the bound are one report per burst, and the next flush() rejects once saying how many.
   */
  #refused(record: R, error: AgentRecordsError): void {
    if (error instanceof RecordsOverflowError && !this.#dropped.noteDropped(error)) return;
    this.#report(error, { kind: 'record-refused', recordType: typeOf(record) });
  }

  #startEpisode(error: unknown): void {
    if (this.#episode) return;
    this.#episode = { error };
    this.#report(
      new RecordsWriteError(
        `Writing records failed (${messageOf(error)}). The agent keeps running; records are ` +
          'queued in order and flush() rejects until a retry succeeds.',
        { cause: error },
      ),
      { kind: 'write-failed' },
    );
  }
}

/** The record's `type` if reading it works and it is a string, for reports. */
export function typeOf(record: unknown): string | undefined {
  try {
    const type = (record as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

/** What `append` may throw for one record without it being an I/O failure. */
function isRefusal(error: unknown): error is AgentRecordsError {
  return (
    error instanceof RecordsInvalidError ||
    error instanceof RecordsSerializeError ||
    error instanceof RecordsClosedError ||
    error instanceof RecordsOverflowError
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

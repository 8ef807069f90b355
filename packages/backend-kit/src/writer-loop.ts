import {
  type RecordsErrorHandler,
  type RecordsErrorInfo,
  type RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { asError, ErrorReporter } from './error-reporter.js';
import { PendingBytes } from './pending-bytes.js';

/** What a writer run awaits first (see WriterLoop.#run). */
const SETTLED: Promise<void> = Promise.resolve();

interface Waiter {
  target: number;
  /** The write attempt current when the wait began (see WriterLoop.#attempt). */
  attempt: number;
  /** The overflow report this wait delivers once its target is written (see waitForAll). */
  overflow: RecordsOverflowError | null;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The writer loop every queued backend needs to honour the persistence contract, so backends
 * (ours and yours) do not each re-implement it: a single-flight writer loop started on a later
 * microtask (a burst of appends becomes one batch, and no I/O runs on the caller's stack),
 * counts of queued and written operations, `flush()` waiters that resolve when everything before
 * them is written, and failure episodes (the first failure reported once through `onError`,
 * waiters rejected with `RecordsWriteError`, the end reported when a retry succeeds). A refusal
 * (a lock held by another writer, a conflict) is final: every later wait rejects with it.
 *
 * `write` is the backend's writer: it writes what is queued, calling `complete` as operations
 * land and `fail` or `refuse` when they cannot, and returns when the queue is empty or a
 * failure is latched.
 *
 * The writer runs whenever work is queued and nothing is latched, flush or no flush: a record
 * appended and then left alone is written within one writer turn.
 *
 * It also keeps the `maxPendingBytes` rule (see {@link PendingBytes}): `admit` before queuing
 * a record, `enqueue(1, bytes)` once it is queued; the bytes are released as operations are
 * completed or discarded, oldest first. Records refused by the bound are one report per burst:
 * the next `waitForAll()` rejects once with a `RecordsOverflowError` counting them.
 *
 * A wait that begins while a write is in flight does not answer with that write's failure: the
 * write began before the wait (perhaps before a fault cleared), so the loop retries once for it
 * and the wait rejects only if its own attempt fails. A rewrite the store refused is latched with
 * `latchRefusal` and rejects the next wait once.
 */
export class WriterLoop {
  readonly #errors: ErrorReporter;
  readonly #write: () => Promise<void>;
  #running: Promise<void> | null = null;
  #again = false;
  /** A run was asked for by {@link wake} while one was going: run once more, work or not. */
  #woken = false;
  #enqueued = 0;
  #completed = 0;
  #waiters: Waiter[] = [];
  #failure: Error | null = null;
  #episode: Error | null = null;
  #refusal: Error | null = null;
  /**
   * Write attempts begun: one per writer run, and one more after each `complete`/`discard` (the
   * writer's next batch). A wait rejects only with the failure of an attempt begun after it.
   */
  #attempt = 0;
  /** Waits kept through the failure of an attempt begun before them: the loop retries for them. */
  #retryOwed = false;
  /** A rewrite the store refused: the next wait that gets that far rejects with it, once. */
  #refusedRewrite: Error | null = null;
  readonly #bytes = new PendingBytes();
  /** The bytes of each outstanding operation, oldest first, from #bytesHead on. */
  #operationBytes: number[] = [];
  #bytesHead = 0;

  /**
   * `errors` is where reports go: an {@link ErrorReporter} the backend holds (so its own warnings
   * and the loop's go to the same place), or a plain handler, which is then the reporter's
   * fallback (a handler subscribed through {@link setErrorHandler} replaces it). `write` is the
   * backend's writer (see above).
   */
  constructor(errors: ErrorReporter | RecordsErrorHandler, write: () => Promise<void>) {
    this.#errors =
      errors instanceof ErrorReporter ? errors : new ErrorReporter({ fallback: errors });
    this.#write = write;
  }

  /** Where this loop's reports go. */
  get errors(): ErrorReporter {
    return this.#errors;
  }

  /**
   * The error-handler capability of `AgentRecordPersistence`, for a backend to forward:
   * subscribes `handler` to every report (see {@link ErrorReporter.setErrorHandler}).
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#errors.setErrorHandler(handler);
  }

  /** The current writer run, if one is going (await it to let it finish). */
  get running(): Promise<void> | null {
    return this.#running;
  }

  /** After an append: start the writer, unless it runs already or an episode waits for a flush. */
  schedule(): void {
    if (this.writable) this.#start();
  }

  /**
   * Starts a writer run even when no operation is outstanding, for work the backend keeps beside
   * the counted operations (a snapshot whose place in the queue is reached, see
   * `PendingSnapshots`); when a run is going, one more follows it. Nothing while a failure is
   * latched or the writer was refused: the next flush's run does it.
   */
  wake(): void {
    if (!this.writable) return;
    if (this.#running) this.#woken = true;
    else this.#start();
  }

  /** Operations queued so far (an append or a rewrite is one). */
  get enqueued(): number {
    return this.#enqueued;
  }

  /** Operations written so far, or dropped because a rewrite replaced them. */
  get completed(): number {
    return this.#completed;
  }

  /** Operations queued and not written yet. */
  get outstanding(): number {
    return this.#enqueued - this.#completed;
  }

  /** The latched failure of the current episode, until a flush retries. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** The final refusal, if any: nothing more will be written. */
  get refusal(): Error | null {
    return this.#refusal;
  }

  /** True while the writer should run: nothing latched, nothing refused. */
  get writable(): boolean {
    return this.#failure === null && this.#refusal === null;
  }

  /** True when a flush would have to wait. */
  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /**
   * Counts `operations` as queued; `bytes` is their size in UTF-8 bytes for the bound (0 for a
   * rewrite, which does not count against it).
   */
  enqueue(operations = 1, bytes = 0): void {
    this.#enqueued += operations;
    this.#operationBytes.push(bytes);
    for (let i = 1; i < operations; i++) this.#operationBytes.push(0);
    this.#bytes.add(bytes);
  }

  /** Queued, unwritten record bytes (UTF-8), as counted by `enqueue`. */
  get pendingBytes(): number {
    return this.#bytes.pendingBytes;
  }

  /**
   * Before queuing a record of `bytes` (UTF-8): throws `RecordsOverflowError` when that would go
   * over `maxPendingBytes`, and counts the record for the next flush's once-per-burst report.
   * `otherPendingBytes` is queued data the backend keeps outside these counts.
   */
  admit(bytes: number, maxPendingBytes: number, otherPendingBytes = 0): void {
    this.#bytes.admit(bytes, maxPendingBytes, otherPendingBytes);
  }

  /** Marks operations written; resolves the waiters they complete, ends an open episode. */
  complete(operations: number): void {
    this.#completed += operations;
    this.#attempt++;
    this.#releaseBytes(operations);
    if (this.#episode) {
      const ended = this.#episode;
      this.#episode = null;
      this.report(ended, { kind: 'write-recovered' });
    }
    this.#settle();
  }

  /**
   * Marks operations as done without writing them (a rewrite replaced them, or a refused rewrite
   * was dropped). Resolves the waiters it completes; an open episode stays open.
   */
  discard(operations: number): void {
    this.#completed += operations;
    this.#attempt++;
    this.#releaseBytes(operations);
    this.#settle();
  }

  /**
   * What `flush()` awaits: resolves once everything queued before the call is written, rejects
   * with the episode's `RecordsWriteError` or the refusal. Clears a latched failure and starts
   * the writer, since a flush during an episode is the retry. After records were dropped by the
   * bound, the first wait rejects (once everything before it is written) with one
   * `RecordsOverflowError` saying how many; later waits resolve. Then, once per rewrite refused
   * with {@link latchRefusal}, a wait rejects with that refusal.
   */
  waitForAll(): Promise<void> {
    if (this.#refusal) return Promise.reject(this.#refusal);
    const overflow = this.#bytes.takeOverflow();
    const target = this.#enqueued;
    if (this.#completed >= target && !this.#failure) {
      const owed = overflow ?? this.#takeRefusedRewrite();
      return owed === null ? Promise.resolve() : Promise.reject(owed);
    }
    this.#failure = null;
    // One promise per wait, settled by #settle or a rejection directly (no `.then` layer: a
    // durable append's flush is a handful of promise hops, each one measurable).
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target, attempt: this.#attempt, overflow, resolve, reject });
      this.#start();
    });
  }

  /**
   * A rewrite the store refused (the old log kept): the next wait that gets everything before it
   * written rejects with `error`, once. Report it yourself (`record-refused`).
   */
  latchRefusal(error: Error): void {
    this.#refusedRewrite = error;
  }

  #start(): void {
    if (this.#refusal) return;
    if (this.#running) {
      // Asked for while a run is ending: run again once it has.
      this.#again = true;
      return;
    }
    this.#again = false;
    this.#woken = false; // this run is the one asked for
    this.#attempt++;
    this.#running = this.#run(this.#enqueued + this.#completed);
  }

  /**
   * One writer run, on a later microtask (one async frame: a chain of `then`/`catch`/`finally`
   * cost three more promises and closures per batch on the durable path).
   */
  async #run(before: number): Promise<void> {
    // A burst of appends becomes one batch; no I/O on the caller's stack. One settled promise for
    // every run: `await Promise.resolve()` made one per durable append.
    await SETTLED;
    try {
      await this.#write();
    } catch (error) {
      // A writer should catch its own failures; one that escapes still becomes an episode.
      this.fail(error, (cause) => `The writer failed unexpectedly: ${cause.message}`);
    }
    this.#running = null;
    this.#afterRun(before);
  }

  /** What follows a run: answer the waits it met, retry for those owed one, or run again. */
  #afterRun(before: number): void {
    // A wait can be met with no operation completed by this run: a failure latched while
    // nothing was outstanding, retried by a wait whose target was already written. Nothing
    // else would answer it.
    this.#settle();
    if (this.#retryOwed) {
      this.#retryOwed = false;
      this.#retryForWaiters();
      if (!this.#running && this.#woken) this.wake();
      return;
    }
    // Work or a flush that arrived while this run was ending: run again whenever something
    // is left to write (background writes always drain, flush or not). A run that changed
    // nothing is not repeated (it would only spin).
    const again = this.#again || this.#enqueued + this.#completed !== before;
    const woken = this.#woken;
    this.#again = false;
    this.#woken = false;
    if (this.writable && (woken || (again && (this.#waiters.length > 0 || this.outstanding > 0)))) {
      this.#start();
    }
  }

  /**
   * A write failed: latch it, report it if it starts an episode, and reject the waiters with
   * `RecordsWriteError` (its message from `describe`, its cause the error).
   */
  fail(error: unknown, describe: (cause: Error) => string): void {
    const cause = asError(error);
    this.#failure = cause;
    if (!this.#episode) {
      this.#episode = cause;
      this.report(cause, { kind: 'write-failed' });
    }
    const failed = new RecordsWriteError(describe(cause), { cause });
    // A wait that began while this attempt was in flight is not answered with its failure: the
    // loop retries once for it (the fault may have cleared since), and it rejects only if that
    // retry fails. Every other wait rejects now.
    const begunAfterIt = this.#waiters.filter((waiter) => waiter.attempt < this.#attempt);
    this.#waiters = this.#waiters.filter((waiter) => waiter.attempt >= this.#attempt);
    for (const waiter of begunAfterIt) this.#failWaiter(waiter, failed);
    if (this.#waiters.length === 0) return;
    if (this.#running) this.#retryOwed = true;
    else queueMicrotask(() => this.#retryForWaiters());
  }

  /** The retry owed to waits that began while a failing attempt was in flight. */
  #retryForWaiters(): void {
    if (this.#refusal || this.#waiters.length === 0) return;
    this.#failure = null; // as a flush during an episode: this is the retry
    this.#start();
  }

  /** A final refusal (another writer holds the log): reported once; every wait rejects with it. */
  refuse(error: Error): void {
    this.#refusal = error;
    // Nothing queued will be written: it no longer counts against the bound.
    this.#operationBytes = [];
    this.#bytesHead = 0;
    this.#bytes.clear();
    this.report(error, { kind: 'write-failed' });
    this.rejectWaiters(error);
  }

  /** Rejects the current waiters only (a refused record or rewrite, which is not an episode). */
  rejectWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) this.#failWaiter(waiter, error);
  }

  /** Reports through {@link errors}; a handler that throws never stops the writer. */
  report(error: Error, info: RecordsErrorInfo): void {
    this.#errors.report(error, info);
  }

  /** Releases the bytes of the oldest `operations` outstanding ones. */
  #releaseBytes(operations: number): void {
    let released = 0;
    const end = Math.min(this.#bytesHead + operations, this.#operationBytes.length);
    for (let i = this.#bytesHead; i < end; i++) released += this.#operationBytes[i] as number;
    this.#bytesHead = end;
    // Emptied only once it holds a few thousand: an array emptied per batch allocated its
    // storage again on the next push, on every durable append.
    if (this.#bytesHead === this.#operationBytes.length && this.#bytesHead >= 4096) {
      this.#operationBytes = [];
      this.#bytesHead = 0;
    } else if (this.#bytesHead > 4096 && this.#bytesHead * 2 > this.#operationBytes.length) {
      this.#operationBytes = this.#operationBytes.slice(this.#bytesHead);
      this.#bytesHead = 0;
    }
    if (this.outstanding <= 0) this.#bytes.clear();
    else this.#bytes.release(released);
  }

  /**
   * Answers the waits whose target is written (in place: no array per batch). The met ones are
   * popped off the end, not cut with `length = kept`: V8 frees the storage of an array whose
   * length is set to 0, so the next flush's push allocated it again (152 bytes per durable append).
   */
  #settle(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    let kept = 0;
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i] as Waiter;
      if (waiter.target <= this.#completed) this.#meet(waiter);
      else waiters[kept++] = waiter;
    }
    while (waiters.length > kept) waiters.pop();
  }

  /**
   * A wait whose target is written: it resolves, unless it owes the host a report: the records
   * the bound dropped before it began, else a rewrite the store refused (each delivered once).
   */
  #meet(waiter: Waiter): void {
    const owed = waiter.overflow ?? this.#takeRefusedRewrite();
    if (owed === null) waiter.resolve();
    else waiter.reject(owed);
  }

  /** A wait that fails: the overflow report it held is not delivered, so the next wait owes it. */
  #failWaiter(waiter: Waiter, error: Error): void {
    if (waiter.overflow) this.#bytes.restoreOverflow(waiter.overflow);
    waiter.reject(error);
  }

  #takeRefusedRewrite(): Error | null {
    const error = this.#refusedRewrite;
    this.#refusedRewrite = null;
    return error;
  }
}

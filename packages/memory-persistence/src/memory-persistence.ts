import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  OneTimeRejection,
  PendingBytes,
  PendingSnapshots,
  type ReadySnapshot,
  serializeRecord,
  utf8ByteLength,
} from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsBatch,
  RecordsClosedError,
  RecordsConflictError,
  type RecordsErrorHandler,
  type RecordsErrorInfo,
  RecordsInvalidError,
  RecordsLockedError,
  type RecordsPosition,
  RecordsSerializeError,
  RecordsWriteError,
  type SnapshotToWrite,
  type StoredSnapshot,
} from '@agent-records/types';
import { endOf, lineBytes, type MemoryLog, memoryLogOf, readLogFrom } from './memory-log.js';
import type {
  FaultOperation,
  InjectedFault,
  InMemoryAgentRecordPersistenceOptions,
} from './options.js';

export type { FaultOperation, InjectedFault, InMemoryAgentRecordPersistenceOptions };

type Pending<R> =
  | { op: 'append'; json: string; bytes: number }
  | { op: 'rewrite'; records: R[]; json: string[] }
  | { op: 'refused-rewrite'; error: RecordsSerializeError | RecordsInvalidError }
  /** Where a snapshot was asked for: reached once everything before it is written. */
  | { op: 'mark'; mark: number }
  | { op: 'title'; title: string };

/** Hands a persistence the log it shares with others of its store (see `memory-store.ts`). */
export let shareLog: <R extends AgentRecordEnvelope>(
  persistence: InMemoryAgentRecordPersistence<R>,
  log: MemoryLog<R>,
) => void;

/**
 * A persistence that keeps records in an array, for tests. It honours the whole contract, so a
 * host tested against it behaves the same on a real backend: appends are snapshotted and written
 * on a later microtask, a failed write is a failure episode (reported once, `flush()` rejects and
 * retries), and `injectFault` makes any operation fail on demand.
 */
export class InMemoryAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecord>
  implements AgentRecordPersistence<R>
{
  #log: MemoryLog<R>;

  static {
    shareLog = (persistence, log) => {
      persistence.#log = log;
    };
  }

  readonly #options: InMemoryAgentRecordPersistenceOptions<R>;
  readonly #maxPendingBytes: number;
  #pending: Pending<R>[] = [];
  readonly #bound = new PendingBytes();
  readonly #errors: ErrorReporter;
  /** A refused rewrite the next flush() still has to report. */
  readonly #refusedRewrite = new OneTimeRejection();
  #faults: Array<{ op: FaultOperation; error: Error; remaining: number }> = [];
  #episode: Error | null = null;
  /** Refused for good (another writer holds the session, or it was deleted): nothing is written. */
  #refusal: RecordsLockedError | RecordsConflictError | null = null;
  /**
   * The read fence, as on fs and pg: the log as a read saw it while this persistence did not hold
   * the session and had nothing queued (a replay). When it then takes the session to write, the
   * log must still be that one: another writer's records or rewrite in between mean the state it
   * rebuilt no longer matches the log.
   */
  #readAt: { generation: number; records: number } | null = null;
  #writeScheduled = false;
  #closed = false;
  readonly #snapshots: PendingSnapshots;
  #marks = 0;

  constructor(
    records: readonly NoInfer<R>[] = [],
    options: InMemoryAgentRecordPersistenceOptions<NoInfer<R>> = {},
  ) {
    let bytes = 0;
    const copies = records.map((record) => {
      const json = serializeRecord(record);
      bytes += lineBytes(json);
      return JSON.parse(json) as R;
    });
    this.#log = memoryLogOf(copies, bytes);
    this.#options = options;
    // Silent by default (a test backend); the core's handler, once subscribed, hears everything.
    this.#errors = new ErrorReporter({ onError: options.onError, fallback: () => {} });
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#snapshots = new PendingSnapshots({
      errors: this.#errors,
      write: (snapshot) => this.#storeSnapshot(snapshot),
    });
  }

  /** The written records, in order. Read it in assertions; write through `append`/`rewrite`. */
  get records(): R[] {
    return this.#log.records;
  }

  /** The title set with `setTitle`, once written. */
  get title(): string | undefined {
    return this.#log.title;
  }

  /**
   * Makes the next `times` attempts of `op` fail with `error`. A failing `append` or `rewrite`
   * starts a failure episode; a failing `flush` rejects that flush; a failing `read` throws from
   * the iterator.
   */
  injectFault(fault: InjectedFault): void {
    const error = fault.error ?? Object.assign(new Error('injected I/O error'), { code: 'EIO' });
    this.#faults.push({ op: fault.op, error, remaining: fault.times ?? 1 });
  }

  /** Removes every injected fault that has not fired yet. */
  clearFaults(): void {
    this.#faults = [];
  }

  /**
   * The error-handler capability: `AgentRecords` subscribes its `onError` here, so the host's one
   * handler hears this backend's reports. The `onError` option, if given, keeps hearing them too.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#errors.setErrorHandler(handler);
  }

  /** True while a failure episode is open (a write failed and no retry has succeeded yet). */
  get failing(): boolean {
    return this.#episode !== null;
  }

  append(record: R): void {
    if (this.#closed) throw new RecordsClosedError();
    const json = serializeRecord(record);
    if (this.#refusal) return; // refused for good; flush() and close() say so
    const bytes = utf8ByteLength(json);
    this.#bound.admit(bytes, this.#maxPendingBytes);
    this.#pending.push({ op: 'append', json, bytes });
    this.#bound.add(bytes);
    this.#scheduleWrite();
  }

  /**
   * Replaces the whole log once written. As on the file backend, a record that cannot be
   * serialised refuses the whole rewrite: it is reported (`record-refused`), the next `flush()`
   * rejects with `RecordsWriteError` (its cause the refusal) and the old log stays, with every
   * record appended before and after the rewrite call.
   */
  rewrite(records: readonly R[]): void {
    if (this.#closed) throw new RecordsClosedError();
    if (this.#refusal) return;
    let json: string[];
    try {
      json = records.map((record) => serializeRecord(record));
    } catch (error) {
      if (!(error instanceof RecordsSerializeError || error instanceof RecordsInvalidError)) {
        throw error;
      }
      this.#pending.push({ op: 'refused-rewrite', error });
      this.#snapshots.invalidate('the log is rewritten');
      this.#scheduleWrite();
      return;
    }
    this.#pending.push({ op: 'rewrite', records: json.map((j) => JSON.parse(j) as R), json });
    this.#snapshots.invalidate('the log is rewritten');
    this.#scheduleWrite();
  }

  /**
   * The snapshot capability (see `AgentRecordPersistence.writeSnapshot`): queued after every
   * append and rewrite so far, stored once they are written and its data is made, at the
   * position after them. After `close()` it is dropped, as a warning; it never throws.
   */
  writeSnapshot(snapshot: SnapshotToWrite): void {
    if (this.#closed) {
      this.#snapshots.refuse(snapshot, 'it was asked for after close()');
      return;
    }
    if (this.#refusal) {
      this.#snapshots.refuse(snapshot, 'this persistence was refused the session');
      return;
    }
    const mark = ++this.#marks;
    this.#snapshots.request(snapshot, mark);
    this.#pending.push({ op: 'mark', mark });
    this.#scheduleWrite();
  }

  /** The newest stored snapshot, or null. */
  async readSnapshot(): Promise<StoredSnapshot | null> {
    return this.#log.snapshot;
  }

  /** A title shown by `InMemoryAgentRecordStore.list()`; queued like an append. */
  setTitle(title: string): void {
    if (this.#closed) throw new RecordsClosedError();
    if (typeof title !== 'string') {
      throw new TypeError(`A title is a string, not ${title === null ? 'null' : typeof title}.`);
    }
    if (this.#refusal) return;
    this.#pending.push({ op: 'title', title });
    this.#scheduleWrite();
  }

  async flush(): Promise<void> {
    const snapshots = this.#snapshots.settled(); // those asked for before this flush
    await Promise.resolve();
    this.#write();
    if (this.#refusal) throw this.#refusal;
    if (this.#episode) {
      throw new RecordsWriteError(
        `Writing records failed (${this.#episode.message}); ${this.#pending.length} operations ` +
          'stay queued and are retried on the next flush().',
        { cause: this.#episode },
      );
    }
    // Once per burst of records dropped by maxPendingBytes, then once per refused rewrite.
    const overflow = this.#bound.takeOverflow();
    if (overflow) throw overflow;
    this.#refusedRewrite.throwIfLatched();
    const fault = this.#takeFault('flush');
    if (fault) {
      this.#report(fault, { kind: 'write-failed' });
      throw new RecordsWriteError(`Flushing records failed (${fault.message}).`, { cause: fault });
    }
    await snapshots;
  }

  /** Flushes, then gives the session back (another persistence may write it), and rejects like `flush()`. */
  async close(): Promise<void> {
    if (this.#closed && this.#pending.length === 0 && !this.#refusal) return;
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      // As the file backend releases its lock whatever the last flush did: records a failed
      // close left queued take the session again when a later flush() writes them.
      if (this.#log.writer === this) this.#log.writer = null;
    }
  }

  async *read(): AsyncIterable<R> {
    const fault = this.#takeFault('read');
    if (fault) throw fault;
    this.#noteRead();
    // Take the queue as it is now, so appends made while iterating do not shift the view.
    const pending = [...this.#pending];
    let base: readonly R[] = this.#log.records;
    let firstAppend = 0;
    for (let i = pending.length - 1; i >= 0; i--) {
      const entry = pending[i];
      if (entry?.op === 'rewrite') {
        base = entry.records;
        firstAppend = i + 1;
        break;
      }
    }
    const length = base.length;
    for (let i = 0; i < length; i++) yield structuredClone(base[i] as R);
    for (let i = firstAppend; i < pending.length; i++) {
      const entry = pending[i];
      if (entry?.op === 'append') yield JSON.parse(entry.json) as R;
    }
  }

  /**
   * The read-from-position capability: positions are `{ index, generation }` (records before it,
   * rewrites written). Written records come in batches with their end; appended, unwritten ones
   * last with `end: null`. A position from before a rewrite (written or queued), or past the
   * end, makes the first `next()` reject with `RecordsPositionError`.
   */
  async *readFrom(position: RecordsPosition | null): AsyncIterable<RecordsBatch<R>> {
    const fault = this.#takeFault('read');
    if (fault) throw fault;
    this.#noteRead();
    let rewritePending = false;
    let records: R[] = [];
    for (const entry of this.#pending) {
      if (entry.op === 'rewrite') {
        rewritePending = true;
        records = entry.records.map((record) => structuredClone(record));
      } else if (entry.op === 'append') records.push(JSON.parse(entry.json) as R);
    }
    yield* readLogFrom(this.#log, position, { rewritePending, records });
  }

  #scheduleWrite(): void {
    if (this.#writeScheduled || this.#episode) return;
    this.#writeScheduled = true;
    queueMicrotask(() => {
      this.#writeScheduled = false;
      this.#write();
    });
  }

  /** Applies queued operations in order; stops at the first failure, which stays queued. */
  #write(): void {
    while (this.#pending.length > 0) {
      const entry = this.#pending[0] as Pending<R>;
      if (entry.op === 'refused-rewrite') {
        this.#pending.shift();
        this.#refuseRewrite(entry.error);
        // Snapshots asked for after the call stood for the log it would have made.
        this.#snapshots.invalidate('its rewrite was refused');
        continue;
      }
      if (entry.op === 'mark') {
        this.#pending.shift();
        this.#snapshots.reached(entry.mark, () => endOf(this.#log));
        continue;
      }
      if (entry.op === 'title') {
        if (!this.#holdsLog()) return;
        this.#pending.shift();
        // A title alone makes the session (listed, with no records), as on fs and pg.
        this.#log.firstWrittenAt ??= Date.now();
        this.#log.title = entry.title;
        continue;
      }
      if (!this.#holdsLog()) return;
      const fault = this.#takeFault(entry.op);
      if (fault) {
        if (!this.#episode) this.#report(fault, { kind: 'write-failed' });
        this.#episode = fault;
        return;
      }
      this.#pending.shift();
      const log = this.#log;
      const now = Date.now();
      log.firstWrittenAt ??= now;
      log.updatedAt = now;
      if (entry.op === 'append') {
        this.#bound.release(entry.bytes);
        log.records.push(JSON.parse(entry.json) as R);
        log.bytes += lineBytes(entry.json);
        this.#notify(entry.json);
      } else {
        // Removed before the log is replaced: no snapshot of the old log may match the new one.
        log.snapshot = null;
        // A new array, so that a read() already iterating the old log is not disturbed.
        log.records = entry.records;
        log.generation++;
        log.bytes = entry.json.reduce((sum, json) => sum + lineBytes(json), 0);
        for (const json of entry.json) this.#notify(json);
      }
    }
    if (this.#episode) {
      const ended = this.#episode;
      this.#episode = null;
      this.#report(ended, { kind: 'write-recovered' });
    }
  }

  /** Notes where a read before this persistence writes (a replay) found the log: the fence. */
  #noteRead(): void {
    if (this.#log.writer === this || this.#pending.length > 0) return;
    this.#readAt = { generation: this.#log.generation, records: this.#log.records.length };
  }

  /**
   * True when this persistence may write the log: it holds the session, or takes it now that
   * nobody does. Otherwise it is refused for good, as the file backend refuses a second writer:
   * what it queued (and is given later) is not written, since its state no longer matches the
   * log; `onError` hears it once and every `flush()` and `close()` rejects with it.
   */
  #holdsLog(): boolean {
    const log = this.#log;
    // Noted only while this persistence did not hold the session, cleared once it takes it.
    const read = this.#readAt;
    const diverged =
      read !== null && (read.generation !== log.generation || read.records !== log.records.length);
    if (!log.deleted && !diverged && (log.writer === null || log.writer === this)) {
      log.writer = this;
      this.#readAt = null;
      return true;
    }
    const operations = this.#pending.filter((entry) => entry.op !== 'mark').length;
    const refusal = log.deleted
      ? new RecordsConflictError(
          'The session was deleted from its store after this persistence was opened on it, so ' +
            `its ${operations} queued operations were not written (the state they build on is ` +
            'gone) and nothing more will be. Open the session again (it starts empty) and replay ' +
            'it before writing.',
        )
      : diverged
        ? new RecordsConflictError(
            `The session was written by another persistence after this one read it (${read.records} ` +
              `records then, ${log.records.length} now; rewrites since: ` +
              `${log.generation - read.generation}), so its ${operations} queued operations were ` +
              'not written (the state they build on no longer matches the log) and nothing more ' +
              'will be. Open the session again and replay it before writing.',
          )
        : new RecordsLockedError(
            'The session is being written by another open persistence of this store; only one ' +
              `writer may append to a session, so this one's ${operations} queued operations were ` +
              'not written and nothing more will be. Close the other writer first, or open this ' +
              'one only to read.',
          );
    this.#refusal = refusal;
    this.#episode = null; // nothing is left to retry
    this.#pending = [];
    this.#bound.clear();
    this.#snapshots.invalidate('this persistence was refused the session');
    this.#report(refusal, { kind: 'write-failed' });
    return false;
  }

  /** The kit's `write` for a ready snapshot: stored whole, or dropped (a fault, a rewrite since). */
  async #storeSnapshot(ready: ReadySnapshot): Promise<void> {
    const fault = this.#takeFault('snapshot');
    if (fault) throw fault;
    const log = this.#log;
    if (log.deleted || (log.writer !== null && log.writer !== this)) {
      throw new Error('the session was deleted or another persistence writes it');
    }
    if (ready.position.generation !== log.generation) {
      throw new Error('the log was rewritten before it could be stored');
    }
    log.snapshot = { ...ready, writtenAt: Date.now() };
  }

  #refuseRewrite(error: RecordsSerializeError | RecordsInvalidError): void {
    this.#report(error, { kind: 'record-refused', recordType: error.recordType });
    this.#refusedRewrite.latch(
      new RecordsWriteError(`The rewrite was refused and the old log kept: ${error.message}`, {
        cause: error,
      }),
    );
  }

  /** Hands a written record to `onRecord`; a callback that throws is reported, not raised. */
  #notify(json: string): void {
    const onRecord = this.#options.onRecord;
    if (!onRecord) return;
    try {
      onRecord(JSON.parse(json) as R);
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      this.#report(
        new Error(`The onRecord callback threw (${cause.message}); the record was written.`, {
          cause,
        }),
        { kind: 'warning' },
      );
    }
  }

  /** Reports to `onError` and the subscribed handler; one that throws never escapes a write. */
  #report(error: Error, info: RecordsErrorInfo): void {
    this.#errors.report(error, info);
  }

  #takeFault(op: FaultOperation): Error | undefined {
    const index = this.#faults.findIndex((f) => f.op === op);
    if (index < 0) return undefined;
    const fault = this.#faults[index] as { error: Error; remaining: number };
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults.splice(index, 1);
    return fault.error;
  }
}

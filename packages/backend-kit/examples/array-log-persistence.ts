import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  OperationQueue,
  PendingSnapshots,
  type QueuedBatch,
  type ReadySnapshot,
  serializeRecord,
  utf8ByteLength,
  WriterLoop,
} from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsBatch,
  RecordsClosedError,
  type RecordsErrorHandler,
  type RecordsPosition,
  RecordsPositionError,
  type SnapshotToWrite,
  type StoredSnapshot,
} from '@agent-records/types';

/** Where the lines live: an array here; a file, a table or a bucket in a real backend. */
export interface LineStore {
  /** One serialised record per entry. A rewrite replaces the array; appends push to it. */
  lines: string[];
  /** Bumped by each rewrite, so that a position in an older log no longer matches. */
  generation?: number;
  /** The newest snapshot (optional capability), replaced whole: never torn. */
  snapshot?: StoredSnapshot | null;
  /** While set, every write fails with it (a stand-in for a full disk). */
  failWith?: Error | null;
}

export interface ArrayLogOptions {
  onError?: RecordsErrorHandler;
  maxPendingBytes?: number;
}

/** A complete backend on the kit: the kit does the queueing, batching and failure episodes. */
export class ArrayLogPersistence<R extends AgentRecordEnvelope = AgentRecordEnvelope>
  implements AgentRecordPersistence<R>
{
  readonly #store: LineStore;
  readonly #maxPendingBytes: number;
  readonly #errors: ErrorReporter;
  /** Rewrites and appends are both kept as serialised lines. */
  readonly #queue = new OperationQueue<string, string>();
  readonly #loop: WriterLoop;
  /** Snapshots queued in order with the appends, written once their records are durable. */
  readonly #snapshots: PendingSnapshots;
  #closed = false;

  constructor(store: LineStore, options: ArrayLogOptions = {}) {
    this.#store = store;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#errors = new ErrorReporter({ onError: options.onError });
    this.#loop = new WriterLoop(this.#errors, () => this.#write());
    this.#snapshots = new PendingSnapshots({
      errors: this.#errors,
      write: (snapshot) => this.#storeSnapshot(snapshot),
    });
  }

  append(record: R): void {
    if (this.#closed) throw new RecordsClosedError();
    const line = serializeRecord(record); // the snapshot; throws only for a bad record
    const bytes = utf8ByteLength(line);
    this.#loop.admit(bytes, this.#maxPendingBytes); // RecordsOverflowError beyond the bound
    this.#queue.append(line, bytes);
    this.#loop.enqueue(1, bytes);
    this.#loop.schedule(); // the writer starts on a later microtask, never on this stack
  }

  rewrite(records: readonly R[]): void {
    if (this.#closed) throw new RecordsClosedError();
    const lines = records.map((record) => serializeRecord(record));
    this.#queue.rewrite(lines); // supersedes what is queued before it once it is written
    this.#snapshots.invalidate('the log is rewritten'); // they cover the log it replaces
    this.#loop.enqueue();
    this.#loop.schedule();
  }

  /** Optional capability: queued after everything appended so far; returns at once. */
  writeSnapshot(snapshot: SnapshotToWrite): void {
    if (this.#closed) {
      this.#snapshots.refuse(snapshot, 'the log is closed'); // a warning; it never throws
      return;
    }
    this.#snapshots.request(snapshot, this.#queue.mark());
    this.#loop.wake(); // the writer reports the mark's position, even with nothing queued
  }

  async readSnapshot(): Promise<StoredSnapshot | null> {
    return this.#store.snapshot ?? null;
  }

  async flush(): Promise<void> {
    const snapshots = this.#snapshots.settled(); // those requested before this flush
    await this.#loop.waitForAll(); // during a failure episode, this is the retry
    await snapshots;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** The error-handler capability: `AgentRecords` subscribes its `onError` here. */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#errors.setErrorHandler(handler);
  }

  async *read(): AsyncIterable<R> {
    // One instant: the store as it is, plus what is in flight or queued.
    const { base, appends } = this.#queue.snapshot();
    const lines = base ?? this.#store.lines;
    const end = lines.length; // appends pushed later are in `appends`, not read twice
    for (let i = 0; i < end; i++) yield JSON.parse(lines[i] as string) as R;
    for (const line of appends) yield JSON.parse(line) as R;
  }

  /** Optional capability: the records after `position`, in batches with the position after each. */
  async *readFrom(position: RecordsPosition | null): AsyncIterable<RecordsBatch<R>> {
    const { base, appends } = this.#queue.snapshot();
    const generation = this.#store.generation ?? 0;
    const lines = this.#store.lines;
    const end = lines.length;
    let from = 0;
    if (position !== null) {
      if (base !== null || position.generation !== generation) {
        throw new RecordsPositionError('The log was rewritten since that position was read.');
      }
      from = position.index as number;
      if (!Number.isInteger(from) || from < 0 || from > end) {
        throw new RecordsPositionError(`The log holds ${end} records, not ${from}: truncated.`);
      }
    }
    for (let i = from; base === null && i < end; i += 1000) {
      const upTo = Math.min(i + 1000, end); // batches: memory independent of the log's length
      const records = lines.slice(i, upTo).map((line) => JSON.parse(line) as R);
      yield { records, end: { index: upTo, generation } };
    }
    const pending = [...(base ?? []), ...appends]; // not durable yet: no position
    if (pending.length > 0) yield { records: pending.map((l) => JSON.parse(l) as R), end: null };
  }

  /** The writer: one batch at a time until the queue is empty or a failure is latched. */
  async #write(): Promise<void> {
    while (this.#loop.writable) {
      // Before anything more is written: the marks reached so far are at the store's end now.
      this.#snapshots.reached(this.#queue.reachedMark, () => this.#end());
      const batch = this.#queue.take(); // never runs past a snapshot's mark
      if (batch === null) return;
      try {
        await this.#commit(batch);
        this.#loop.complete(this.#queue.written());
      } catch (error) {
        this.#loop.fail(
          error,
          (cause) =>
            `Writing the log failed (${cause.message}); ${this.#queue.operations} operations ` +
            'stay queued in order and are retried on the next flush().',
        );
        this.#loop.discard(this.#queue.requeue()); // back where it was, retried on flush()
        return;
      }
    }
  }

  /** The store-specific part: one write of the whole batch. */
  async #commit(batch: QueuedBatch<string, string>): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // a real store's I/O goes here
    const store = this.#store;
    if (store.failWith) throw store.failWith;
    if (batch.rewrite) {
      await this.#snapshots.idle(); // no older snapshot lands after the rewrite removes it
      store.snapshot = null; // removed BEFORE the log is replaced: a crash leaves none stale
      store.lines = [...batch.rewrite];
      store.generation = (store.generation ?? 0) + 1;
    }
    for (const line of batch.appends) store.lines.push(line);
  }

  /** The position of the store's end, as `readFrom` takes it. */
  #end(): RecordsPosition {
    return { index: this.#store.lines.length, generation: this.#store.generation ?? 0 };
  }

  /** Stores one snapshot atomically (here: one assignment). A rejection drops it, as a warning. */
  async #storeSnapshot(ready: ReadySnapshot): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // a real store's I/O goes here
    if (this.#store.failWith) throw this.#store.failWith;
    this.#store.snapshot = { ...ready, writtenAt: Date.now() };
  }
}

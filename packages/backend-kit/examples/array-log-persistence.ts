import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  OperationQueue,
  type QueuedBatch,
  serializeRecord,
  utf8ByteLength,
  WriterLoop,
} from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorHandler,
} from '@agent-records/types';

/** Where the lines live: an array here; a file, a table or a bucket in a real backend. */
export interface LineStore {
  /** One serialised record per entry. A rewrite replaces the array; appends push to it. */
  lines: string[];
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
  #closed = false;

  constructor(store: LineStore, options: ArrayLogOptions = {}) {
    this.#store = store;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#errors = new ErrorReporter({ onError: options.onError });
    this.#loop = new WriterLoop(this.#errors, () => this.#write());
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
    this.#loop.enqueue();
    this.#loop.schedule();
  }

  async flush(): Promise<void> {
    await this.#loop.waitForAll(); // during a failure episode, this is the retry
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

  /** The writer: one batch at a time until the queue is empty or a failure is latched. */
  async #write(): Promise<void> {
    while (this.#loop.writable) {
      const batch = this.#queue.take();
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
    if (batch.rewrite) store.lines = [...batch.rewrite];
    for (const line of batch.appends) store.lines.push(line);
  }
}

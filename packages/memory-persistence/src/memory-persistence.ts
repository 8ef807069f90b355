import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorHandler,
  RecordsOverflowError,
  RecordsWriteError,
  serializeRecord,
} from '@agent-records/types';

/** An operation of the in-memory backend that a test can make fail. */
export type FaultOperation = 'append' | 'flush' | 'rewrite' | 'read';

export interface InjectedFault {
  /** Which operation fails: a background write of appended records, a flush, a rewrite, a read. */
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
  /** Bound on queued, unwritten bytes (default 64 MiB). */
  maxPendingBytes?: number;
}

type Pending<R> = { op: 'append'; json: string } | { op: 'rewrite'; records: R[]; json: string[] };

const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * A persistence that keeps records in an array, for tests. It honours the whole contract, so a
 * host tested against it behaves the same on a real backend: appends are snapshotted and written
 * on a later microtask, a failed write is a failure episode (reported once, `flush()` rejects and
 * retries), and `injectFault` makes any operation fail on demand.
 */
export class InMemoryAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecordEnvelope>
  implements AgentRecordPersistence<R>
{
  #records: R[];

  readonly #options: InMemoryAgentRecordPersistenceOptions<R>;
  readonly #maxPendingBytes: number;
  #pending: Pending<R>[] = [];
  #pendingBytes = 0;
  #faults: Array<{ op: FaultOperation; error: Error; remaining: number }> = [];
  #episode: Error | null = null;
  #writeScheduled = false;
  #closed = false;

  constructor(
    records: readonly NoInfer<R>[] = [],
    options: InMemoryAgentRecordPersistenceOptions<NoInfer<R>> = {},
  ) {
    this.#records = records.map((record) => JSON.parse(serializeRecord(record)) as R);
    this.#options = options;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  /** The written records, in order. Read it in assertions; write through `append`/`rewrite`. */
  get records(): R[] {
    return this.#records;
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

  /** True while a failure episode is open (a write failed and no retry has succeeded yet). */
  get failing(): boolean {
    return this.#episode !== null;
  }

  append(record: R): void {
    if (this.#closed) throw new RecordsClosedError();
    const json = serializeRecord(record);
    if (this.#pendingBytes + json.length > this.#maxPendingBytes) {
      throw new RecordsOverflowError(this.#pendingBytes + json.length, this.#maxPendingBytes);
    }
    this.#pending.push({ op: 'append', json });
    this.#pendingBytes += json.length;
    this.#scheduleWrite();
  }

  rewrite(records: readonly R[]): void {
    if (this.#closed) throw new RecordsClosedError();
    const json = records.map((record) => serializeRecord(record));
    this.#pending.push({ op: 'rewrite', records: json.map((j) => JSON.parse(j) as R), json });
    this.#scheduleWrite();
  }

  async flush(): Promise<void> {
    await Promise.resolve();
    this.#write();
    if (this.#episode) {
      throw new RecordsWriteError(
        `Writing records failed (${this.#episode.message}); ${this.#pending.length} operations ` +
          'stay queued and are retried on the next flush().',
        { cause: this.#episode },
      );
    }
    const fault = this.#takeFault('flush');
    if (fault) {
      this.#options.onError?.(fault, { kind: 'write-failed' });
      throw new RecordsWriteError(`Flushing records failed (${fault.message}).`, { cause: fault });
    }
  }

  async close(): Promise<void> {
    if (this.#closed && this.#pending.length === 0) return;
    this.#closed = true;
    await this.flush();
  }

  async *read(): AsyncIterable<R> {
    const fault = this.#takeFault('read');
    if (fault) throw fault;
    // Take the queue as it is now, so appends made while iterating do not shift the view.
    const pending = [...this.#pending];
    let base: readonly R[] = this.#records;
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
      const fault = this.#takeFault(entry.op);
      if (fault) {
        if (!this.#episode) this.#options.onError?.(fault, { kind: 'write-failed' });
        this.#episode = fault;
        return;
      }
      this.#pending.shift();
      if (entry.op === 'append') {
        this.#pendingBytes -= entry.json.length;
        this.#records.push(JSON.parse(entry.json) as R);
        this.#options.onRecord?.(JSON.parse(entry.json) as R);
      } else {
        // A new array, so that a read() already iterating the old log is not disturbed.
        this.#records = entry.records;
        for (const json of entry.json) this.#options.onRecord?.(JSON.parse(json) as R);
      }
    }
    if (this.#episode) {
      const ended = this.#episode;
      this.#episode = null;
      this.#options.onError?.(ended, { kind: 'write-recovered' });
    }
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

/**
 * A batch of queued work, in the order it must reach the store: an optional replacement of the
 * whole log (`rewrite`), then the records appended after it (`appends`, in whatever form the
 * backend keeps them: serialised lines, rows).
 */
export interface QueuedBatch<R, A> {
  readonly rewrite: readonly R[] | null;
  readonly appends: readonly A[];
}

/** What {@link OperationQueue.take} hands the writer. */
export interface TakeOptions {
  /**
   * Take at most this many appends (default: all queued). The rest stay at the head of the
   * queue. With a rewrite queued, `0` takes the rewrite alone. Used to cut batches (a store's
   * limit, or halving a batch to find the one record a store refuses).
   */
  maxAppends?: number;
  /** Take a queued rewrite without the appends after it (they are the next batch). */
  rewriteAlone?: boolean;
}

/** What a reader sees of the queue at one instant (see {@link OperationQueue.snapshot}). */
export interface QueueSnapshot<R, A> {
  /** The log as a queued or in-flight rewrite will leave it; `null`: the store's own contents. */
  base: readonly R[] | null;
  /** The appends to read after `base` (or after the store's contents), oldest first. */
  appends: A[];
}

interface Entry<A> {
  value: A;
  bytes: number;
}

interface Segment<R, A> {
  rewrite: readonly R[] | null;
  appends: Entry<A>[];
}

/**
 * The queue between a backend's `append`/`rewrite` and its writer: a pending rewrite plus the
 * appends after it, and the one batch the writer has in flight. One class for every queued
 * backend, so that the subtle cases are decided once:
 *
 * - A rewrite supersedes what is queued: {@link rewrite} drops the queued appends (and an earlier
 *   queued rewrite) and returns how many operations it dropped, for `WriterLoop.discard`.
 * - A batch in flight when a rewrite is queued is left alone: if it lands, it was written (and is
 *   replaced later); if it fails, {@link requeue} drops it (the rewrite replaces it anyway)
 *   instead of putting it back in front of the rewrite.
 * - A failed batch goes back to the head, before the appends queued meanwhile, so the log keeps
 *   every record exactly once, in order.
 * - {@link snapshot} gives a reader the in-flight and queued work as one consistent view.
 * - Each append carries its size in bytes; {@link pendingBytes} counts the appends not written.
 *
 * The writer's cycle, with a `WriterLoop` named `loop`:
 *
 * ```ts
 * const batch = queue.take();          // null: nothing queued
 * try {
 *   await store.write(batch);
 *   loop.complete(queue.written());
 * } catch (error) {
 *   loop.fail(error, describe);        // first: rejects the waiting flushes
 *   loop.discard(queue.requeue());     // then: back at the head, or dropped if superseded
 * }
 * ```
 *
 * Every method that removes operations returns how many, to pass to `WriterLoop.complete`
 * (written) or `WriterLoop.discard` (dropped), so the loop's counts always match the queue.
 * The queue does no I/O and never calls back: it is plain state, safe to use from any code.
 */
export class OperationQueue<R, A = string> {
  #queued: Segment<R, A> = { rewrite: null, appends: [] };
  #inflight: Segment<R, A> | null = null;
  /** The batch {@link requeue} put back at the head, while it is still there untouched. */
  #requeued: { rewrite: readonly R[] | null; appends: number } | null = null;
  #pendingBytes = 0;

  /** Queues one append; `bytes` is its size for {@link pendingBytes} (UTF-8, say). */
  append(value: A, bytes = 0): void {
    this.#queued.appends.push({ value, bytes });
    this.#pendingBytes += bytes;
  }

  /**
   * Queues a replacement of the whole log (the array is kept as given: copy it first if the
   * caller may change it). Everything queued before is dropped, since the rewrite replaces it;
   * a batch in flight is not touched (see {@link requeue}). Returns the operations dropped (an
   * append is one, a rewrite is one), for `WriterLoop.discard`; the rewrite itself is one more
   * operation for `WriterLoop.enqueue`.
   */
  rewrite(records: readonly R[]): number {
    const dropped = this.queuedOperations;
    this.#pendingBytes -= sumBytes(this.#queued.appends);
    this.#queued = { rewrite: records, appends: [] };
    this.#requeued = null;
    return dropped;
  }

  /**
   * Hands the writer the next batch and marks it in flight: the queued rewrite, if any, and the
   * appends after it (see {@link TakeOptions}). Returns `null` when nothing is queued. Only one
   * batch is in flight at a time: settle it ({@link written}, {@link requeue}, {@link drop})
   * before taking the next.
   */
  take(options: TakeOptions = {}): QueuedBatch<R, A> | null {
    if (this.#inflight) {
      throw new Error('OperationQueue.take: a batch is still in flight; settle it first.');
    }
    const queued = this.#queued;
    if (queued.rewrite === null && queued.appends.length === 0) return null;
    let count = queued.appends.length;
    if (options.rewriteAlone && queued.rewrite !== null) count = 0;
    if (options.maxAppends !== undefined) {
      // Never an empty batch: without a rewrite, at least one append goes.
      count = Math.min(count, Math.max(queued.rewrite === null ? 1 : 0, options.maxAppends));
    }
    const taken: Segment<R, A> = {
      rewrite: queued.rewrite,
      appends: queued.appends.slice(0, count),
    };
    this.#queued = { rewrite: null, appends: queued.appends.slice(count) };
    this.#inflight = taken;
    this.#requeued = null;
    return batchOf(taken);
  }

  /** The batch in flight, if any. */
  get inflight(): QueuedBatch<R, A> | null {
    return this.#inflight && batchOf(this.#inflight);
  }

  /** The batch in flight was written. Returns its operations, for `WriterLoop.complete`. */
  written(): number {
    const inflight = this.#settle();
    this.#pendingBytes -= sumBytes(inflight.appends);
    return operationsOf(inflight);
  }

  /**
   * The batch in flight failed: it goes back to the head of the queue, before the appends queued
   * meanwhile, to be retried. If a rewrite was queued meanwhile it is dropped instead (the rewrite
   * replaces it). With `dropRewrite`, its rewrite is dropped and only its appends go back (a
   * rewrite the store refused). Returns the operations dropped, for `WriterLoop.discard` (0 when
   * everything went back). Call `WriterLoop.fail` first, so that a flush waiting for the batch is
   * rejected rather than resolved by the discard.
   */
  requeue(options: { dropRewrite?: boolean } = {}): number {
    const inflight = this.#settle();
    const rewrite = options.dropRewrite ? null : inflight.rewrite;
    let dropped = options.dropRewrite && inflight.rewrite !== null ? 1 : 0;
    if (this.#queued.rewrite !== null) {
      dropped += (rewrite === null ? 0 : 1) + inflight.appends.length;
      this.#pendingBytes -= sumBytes(inflight.appends);
      return dropped;
    }
    this.#queued = { rewrite, appends: inflight.appends.concat(this.#queued.appends) };
    this.#requeued = { rewrite, appends: inflight.appends.length };
    return dropped;
  }

  /**
   * The batch in flight is given up for good (the store refused it: a rewrite holding a record
   * it cannot hold, or the one append it refuses). Returns its operations, for
   * `WriterLoop.discard`.
   */
  drop(): number {
    const inflight = this.#settle();
    this.#pendingBytes -= sumBytes(inflight.appends);
    return operationsOf(inflight);
  }

  /**
   * A batch put back by {@link requeue} turns out to have been written after all (a store that
   * can tell, say after a connection dropped around a commit): removes from the head what it held,
   * its rewrite and its first `appends` appends (default: all of them). Returns the operations
   * removed, for `WriterLoop.complete`; 0 when nothing requeued is at the head any more (it was
   * taken again, superseded by a rewrite, or dropped).
   */
  acknowledgeRequeued(appends?: number): number {
    const requeued = this.#requeued;
    if (requeued === null) return 0;
    this.#requeued = null;
    const count = Math.max(0, Math.min(appends ?? requeued.appends, requeued.appends));
    const removed = this.#queued.appends.slice(0, count);
    this.#queued = { rewrite: null, appends: this.#queued.appends.slice(count) };
    this.#pendingBytes -= sumBytes(removed);
    return (requeued.rewrite === null ? 0 : 1) + count;
  }

  /**
   * What a reader must add to the store's contents to see every record appended so far, taken at
   * one instant (copied: later appends do not shift it). `base` is the log a rewrite in flight or
   * queued will leave (read it instead of the store); `appends` come after.
   */
  snapshot(): QueueSnapshot<R, A> {
    const queued = this.#queued;
    if (queued.rewrite !== null) {
      return { base: queued.rewrite, appends: valuesOf(queued.appends) };
    }
    const inflight = this.#inflight;
    if (inflight === null) return { base: null, appends: valuesOf(queued.appends) };
    return {
      base: inflight.rewrite,
      appends: valuesOf(inflight.appends).concat(valuesOf(queued.appends)),
    };
  }

  /** Everything not written, in flight first, then queued (what a refused writer still holds). */
  unwritten(): QueuedBatch<R, A>[] {
    const out = this.#inflight ? [batchOf(this.#inflight)] : [];
    if (operationsOf(this.#queued) > 0) out.push(batchOf(this.#queued));
    return out;
  }

  /** Forgets everything queued and in flight (a writer refused for good). */
  clear(): void {
    this.#queued = { rewrite: null, appends: [] };
    this.#inflight = null;
    this.#requeued = null;
    this.#pendingBytes = 0;
  }

  /** Operations queued and not taken (a rewrite is one, an append is one). */
  get queuedOperations(): number {
    return operationsOf(this.#queued);
  }

  /** Operations queued or in flight: everything not written yet. */
  get operations(): number {
    return this.queuedOperations + (this.#inflight ? operationsOf(this.#inflight) : 0);
  }

  /** True when nothing is queued (a batch may still be in flight). */
  get empty(): boolean {
    return this.queuedOperations === 0;
  }

  /** The bytes of the appends queued or in flight, as given to {@link append}. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  #settle(): Segment<R, A> {
    const inflight = this.#inflight;
    if (!inflight) throw new Error('OperationQueue: no batch is in flight.');
    this.#inflight = null;
    return inflight;
  }
}

function operationsOf(segment: Segment<unknown, unknown>): number {
  return (segment.rewrite === null ? 0 : 1) + segment.appends.length;
}

function sumBytes(entries: readonly Entry<unknown>[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.bytes;
  return bytes;
}

function valuesOf<A>(entries: readonly Entry<A>[]): A[] {
  return entries.map((entry) => entry.value);
}

function batchOf<R, A>(segment: Segment<R, A>): QueuedBatch<R, A> {
  return { rewrite: segment.rewrite, appends: valuesOf(segment.appends) };
}

/** The shapes the operation queue keeps and hands out (see `operation-queue.ts`). */

/**
 * A batch of queued work, in the order it must reach the store: an optional replacement of the
 * whole log (`rewrite`), then the records appended after it (`appends`, in whatever form the
 * backend keeps them: serialised lines, rows).
 */
export interface QueuedBatch<R, A> {
  readonly rewrite: readonly R[] | null;
  readonly appends: readonly A[];
}

/** What `OperationQueue.take` hands the writer. */
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

/** What a reader sees of the queue at one instant (see `OperationQueue.snapshot`). */
export interface QueueSnapshot<R, A> {
  /** The log as a queued or in-flight rewrite will leave it; `null`: the store's own contents. */
  base: readonly R[] | null;
  /** The appends to read after `base` (or after the store's contents), oldest first. */
  appends: A[];
}

export interface Entry<A> {
  value: A;
  bytes: number;
  /** The append's number in queue order (1, 2, ...), for `OperationQueue.mark`. */
  seq: number;
}

/**
 * A place in the queue: after the rewrite of `segment` and its appends numbered up to
 * `afterSeq`. Marks only ever live in the newest segment (a rewrite loses the older ones).
 */
export interface Mark<R, A> {
  id: number;
  segment: Segment<R, A>;
  afterSeq: number;
}

/**
 * A rewrite (none in the first segment, once its rewrite is written) and the appends after it.
 * `settled` counts refused rewrites that stood among these appends: nothing to write, but they
 * are done with the appends, so flush waiters see operations end in the order they were queued.
 */
export interface Segment<R, A> {
  rewrite: readonly R[] | null;
  appends: Entry<A>[];
  settled: number;
}

export interface Inflight<R, A> {
  segment: Segment<R, A>;
  rewrite: boolean;
  appends: Entry<A>[];
  settled: number;
}

export const segmentOf = <R, A>(rewrite: readonly R[] | null = null): Segment<R, A> => ({
  rewrite,
  appends: [],
  settled: 0,
});

export function operationsOf(segment: Segment<unknown, unknown>): number {
  return (segment.rewrite === null ? 0 : 1) + segment.appends.length + segment.settled;
}

// Index loops in these helpers, not for-of: they run per batch, and until they are optimised
// each for-of allocates an iterator and a result object per step.
export function sumBytes(entries: readonly Entry<unknown>[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) bytes += (entries[i] as Entry<unknown>).bytes;
  return bytes;
}

/**
 * The values of `entries`, in a new array. A loop, not `map`: once optimised, `map` hands out
 * arrays of another elements kind than the interpreter's, and the writer's code compiled for the
 * one deoptimised on the other ("wrong map") in the middle of a burst of durable appends.
 */
export function valuesOf<A>(entries: readonly Entry<A>[]): A[] {
  const values = new Array<A>(entries.length);
  for (let i = 0; i < entries.length; i++) values[i] = (entries[i] as Entry<A>).value;
  return values;
}

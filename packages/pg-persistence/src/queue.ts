/**
 * Queued work of one session: rewrites and appended rows, oldest first. An append is one
 * operation for the writer loop, and so is a rewrite.
 */
export interface Segment<R> {
  rewrite: readonly R[] | null;
  /**
   * With a rewrite: what was queued before it. Replaced once the rewrite lands; written as if
   * the rewrite had never been asked for when it is refused.
   */
  before: Segment<R>[];
  /** The appended records' JSON lines. */
  lines: string[];
  /** Each line's `time` (epoch ms) for the `time` column, index for index with `lines`. */
  times: Array<number | null>;
}

/** What a reader adds to the committed rows: the log a pending rewrite leaves, then lines. */
export interface QueueSnapshot<R> {
  base: readonly R[] | null;
  pending: string[][];
}

/**
 * The queue between `append`/`rewrite` and the writer, with the one batch in flight. Unlike a
 * queue that drops what a rewrite replaces when the rewrite is asked for, it keeps that work
 * until the rewrite lands, so a rewrite the store refuses loses nothing (as on the memory
 * backend). Every method that settles the batch in flight returns its operations, for the
 * writer loop's `complete` or `discard`.
 */
export class SegmentQueue<R> {
  #queue: Segment<R>[] = [emptySegment()];
  #inflight: Segment<R> | null = null;

  append(line: string, time: number | null): void {
    const segment = this.#queue[this.#queue.length - 1] as Segment<R>;
    segment.lines.push(line);
    segment.times.push(time);
  }

  /** Queues a rewrite (the array as given: copy it first). What is queued stays, as its `before`. */
  rewrite(records: readonly R[]): void {
    const before = this.#queue.filter((segment) => operationsIn(segment) > 0);
    this.#queue = [{ rewrite: records, before, lines: [], times: [] }];
  }

  /** True when nothing is queued (a batch may be in flight). */
  get empty(): boolean {
    while (this.#queue.length > 1 && operationsIn(this.#queue[0] as Segment<R>) === 0) {
      this.#queue.shift();
    }
    return operationsIn(this.#queue[0] as Segment<R>) === 0;
  }

  /** Operations queued, not in flight (what a rewrite replaces included). */
  get queuedOperations(): number {
    let operations = 0;
    for (const segment of this.#queue) operations += operationsIn(segment);
    return operations;
  }

  /** The batch in flight, if any. */
  get inflight(): Segment<R> | null {
    return this.#inflight;
  }

  /**
   * Takes the head segment as the batch in flight: whole, or (with `maxAppends`) its rewrite and
   * its first appends only, the rest staying at the head. Appends arriving meanwhile start a
   * new segment.
   */
  take(maxAppends: number | null): Segment<R> {
    this.empty; // drops empty leading segments
    const head = this.#queue[0] as Segment<R>;
    let batch = head;
    if (maxAppends === null || head.lines.length <= maxAppends) {
      this.#queue[0] = emptySegment();
    } else {
      this.#queue[0] = {
        rewrite: null,
        before: [],
        lines: head.lines.slice(maxAppends),
        times: head.times.slice(maxAppends),
      };
      batch = {
        rewrite: head.rewrite,
        before: head.before,
        lines: head.lines.slice(0, maxAppends),
        times: head.times.slice(0, maxAppends),
      };
    }
    this.#inflight = batch;
    return batch;
  }

  /** The batch in flight was committed: its operations, with what its rewrite replaced. */
  written(): number {
    const batch = this.#settle();
    return batch ? operationsIn(batch) : 0;
  }

  /** The batch in flight failed (or is being cut smaller): back to the head of the queue. */
  requeue(): void {
    const batch = this.#settle();
    if (batch) this.#putBack([batch]);
  }

  /**
   * The batch in flight holds a rewrite the store refused: what was queued before it and its own
   * appends go back, as if it had never been asked for. Returns 1 (the rewrite), for `discard`.
   */
  refuseRewrite(): number {
    const batch = this.#settle();
    if (!batch) return 0;
    this.#putBack([
      ...batch.before,
      { rewrite: null, before: [], lines: batch.lines, times: batch.times },
    ]);
    return 1;
  }

  /** The batch in flight (one append the store refused) is dropped: its operations, for `discard`. */
  drop(): number {
    const batch = this.#settle();
    return batch ? operationsIn(batch) : 0;
  }

  /**
   * A requeued batch turned out to have committed (its COMMIT answer was lost): removes from
   * the head its rewrite (with what that replaced) and its first `appends` lines. Returns the
   * operations removed, for `complete`.
   */
  acknowledge(rewrite: boolean, appends: number): number {
    const head = this.#queue[0] as Segment<R>;
    let operations = 0;
    if (rewrite && head.rewrite) {
      operations += operationsIn(head) - head.lines.length;
      head.rewrite = null;
      head.before = [];
    }
    const written = Math.max(0, Math.min(appends, head.lines.length));
    head.lines = head.lines.slice(written);
    head.times = head.times.slice(written);
    return operations + written;
  }

  /** True when the batch `take` would hand out starts with a rewrite. */
  get headHasRewrite(): boolean {
    this.empty; // drops empty leading segments
    return (this.#queue[0] as Segment<R>).rewrite !== null;
  }

  /** The head segment's rewrite length (0 without one), to tell a committed batch's appends. */
  get headRewriteLength(): number {
    return (this.#queue[0] as Segment<R>).rewrite?.length ?? 0;
  }

  /** What a reader adds to the committed rows, at this instant (copied). */
  snapshot(): QueueSnapshot<R> {
    let base: readonly R[] | null = null;
    let pending: string[][] = [];
    for (const segment of this.#pending()) {
      if (segment.rewrite) {
        base = segment.rewrite;
        pending = [];
      }
      if (segment.lines.length > 0) pending.push(segment.lines.slice());
    }
    return { base, pending };
  }

  /** The records not written, as this writer meant the log to be: in flight, then queued. */
  unwritten(): R[] {
    const out: R[] = [];
    for (const segment of this.#pending()) {
      if (segment.rewrite) out.push(...segment.rewrite);
      for (const line of segment.lines) out.push(JSON.parse(line) as R);
    }
    return out;
  }

  /** How many records `unwritten()` returns. */
  get unwrittenCount(): number {
    let count = 0;
    for (const segment of this.#pending())
      count += (segment.rewrite?.length ?? 0) + segment.lines.length;
    return count;
  }

  #pending(): Segment<R>[] {
    return this.#inflight ? [this.#inflight, ...this.#queue] : this.#queue;
  }

  #settle(): Segment<R> | null {
    const batch = this.#inflight;
    this.#inflight = null;
    return batch;
  }

  /** Puts segments taken out back at the head, before the appends queued meanwhile. */
  #putBack(segments: Segment<R>[]): void {
    const taken = segments.filter((segment) => operationsIn(segment) > 0);
    const last = taken.pop();
    if (!last) return;
    const head = this.#queue[0] as Segment<R>;
    if (head.rewrite) {
      // A rewrite queued meanwhile replaces them once it lands; if it is refused, they are written.
      head.before = [...taken, last, ...head.before];
      return;
    }
    this.#queue = [
      ...taken,
      {
        rewrite: last.rewrite,
        before: last.before,
        lines: last.lines.concat(head.lines),
        times: last.times.concat(head.times),
      },
      ...this.#queue.slice(1),
    ];
  }
}

function emptySegment<R>(): Segment<R> {
  return { rewrite: null, before: [], lines: [], times: [] };
}

/** Operations a segment holds: its rewrite, what that replaces, its appends. */
export function operationsIn<R>(segment: Segment<R>): number {
  if (!segment.rewrite) return segment.lines.length;
  let operations = 1 + segment.lines.length;
  for (const replaced of segment.before) operations += operationsIn(replaced);
  return operations;
}

/**
 * Queued work: an optional whole-log replacement, then the lines appended after it. `settled`
 * counts refused rewrites that stood among these lines: nothing to write, but they complete
 * with the lines, so flush waiters and the byte bound see operations in the order queued.
 */
interface Segment<R> {
  rewrite: readonly R[] | null;
  lines: string[];
  settled: number;
}

const segmentOf = <R>(rewrite: readonly R[] | null = null): Segment<R> => ({
  rewrite,
  lines: [],
  settled: 0,
});

/** What the writer should do next (see {@link WriteQueue.next}). */
export type QueuedWork<R> =
  /** Write the newest queued rewrite; everything before it waits until it lands. */
  | { kind: 'rewrite'; index: number; records: readonly R[] }
  /** Append these lines as one batch (now in flight: settle with `written` or `requeue`). */
  | { kind: 'append'; lines: string[] }
  /** Refused rewrites with nothing left to write around them: count them done. */
  | { kind: 'settle'; operations: number };

/** What a reader adds to the file: a rewrite to read instead of it, then lines after. */
export interface QueuedView<R> {
  base: readonly R[] | null;
  pending: string[][];
}

/**
 * The file backend's queue between `append`/`rewrite` and the writer. Unlike a queue whose
 * rewrite drops what was queued before it at once, a rewrite here supersedes earlier work only
 * when it lands (`landed`): if the writer refuses it (`refused`), the appends around it are
 * written as if it had never been called, so nothing accepted is lost. Every method that ends
 * operations returns how many, for the writer loop's `complete`/`discard`.
 *
 * Invariant: only the head segment may lack a rewrite (segments are made by `rewrite`, and a
 * rewrite that lands or is refused at the head leaves the head without one).
 */
export class WriteQueue<R> {
  #segments: Segment<R>[] = [segmentOf()];
  #inflight: string[] | null = null;
  #inflightSettled = 0;

  append(line: string): void {
    (this.#segments[this.#segments.length - 1] as Segment<R>).lines.push(line);
  }

  /** Queues a replacement of the whole log (kept as given: pass a copy). */
  rewrite(records: readonly R[]): void {
    this.#segments.push(segmentOf(records));
  }

  /** The next work, or null when nothing is queued. Only one append batch is in flight. */
  next(): QueuedWork<R> | null {
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const records = (this.#segments[i] as Segment<R>).rewrite;
      if (records) return { kind: 'rewrite', index: i, records };
    }
    const head = this.#segments[0] as Segment<R>;
    if (head.lines.length > 0) {
      this.#inflight = head.lines;
      this.#inflightSettled = head.settled;
      head.lines = [];
      head.settled = 0;
      return { kind: 'append', lines: this.#inflight };
    }
    if (head.settled > 0) {
      const operations = head.settled;
      head.settled = 0;
      return { kind: 'settle', operations };
    }
    return null;
  }

  /** The batch in flight was written: returns its operations, for `complete`. */
  written(): number {
    const operations = (this.#inflight?.length ?? 0) + this.#inflightSettled;
    this.#inflight = null;
    this.#inflightSettled = 0;
    return operations;
  }

  /** The batch in flight failed: back in front of the head's lines, to be retried first. */
  requeue(): void {
    if (!this.#inflight) return;
    const head = this.#segments[0] as Segment<R>;
    head.lines = this.#inflight.concat(head.lines);
    head.settled += this.#inflightSettled;
    this.#inflight = null;
    this.#inflightSettled = 0;
  }

  /**
   * The rewrite at `index` landed: everything queued before it is superseded. Returns how many
   * operations that was (for `discard`, before the rewrite's own `complete(1)`) and the earlier
   * rewrites among them, which were never tried (a refusal in them is still owed a report).
   */
  landed(index: number): { superseded: number; skippedRewrites: (readonly R[])[] } {
    let superseded = 0;
    const skippedRewrites: (readonly R[])[] = [];
    for (const earlier of this.#segments.slice(0, index)) {
      superseded += (earlier.rewrite ? 1 : 0) + earlier.lines.length + earlier.settled;
      if (earlier.rewrite) skippedRewrites.push(earlier.rewrite);
    }
    this.#segments = this.#segments.slice(index);
    (this.#segments[0] as Segment<R>).rewrite = null;
    return { superseded, skippedRewrites };
  }

  /**
   * The rewrite at `index` was refused: the lines after it join those before it, and its place
   * among them completes with them. Returns the operations done right now (for `discard`): 1
   * when nothing was queued before it, else 0.
   */
  refused(index: number): number {
    const segment = this.#segments[index] as Segment<R>;
    segment.rewrite = null;
    if (index === 0) return 1;
    const previous = this.#segments[index - 1] as Segment<R>;
    previous.lines = previous.lines.concat(segment.lines);
    previous.settled += 1 + segment.settled;
    this.#segments.splice(index, 1);
    return 0;
  }

  /** Forgets everything (a writer refused for good). */
  clear(): void {
    this.#segments = [segmentOf()];
    this.#inflight = null;
    this.#inflightSettled = 0;
  }

  /**
   * What a reader sees at this instant, copied so later appends do not shift it. Rewrites in
   * `refused` are read as the writer will leave them: as if they had never been called.
   */
  view(refused?: ReadonlySet<readonly R[]>): QueuedView<R> {
    let base: readonly R[] | null = null;
    let pending: string[][] = this.#inflight ? [this.#inflight.slice()] : [];
    for (const segment of this.#segments) {
      if (segment.rewrite && !refused?.has(segment.rewrite)) {
        base = segment.rewrite;
        pending = [];
      }
      if (segment.lines.length > 0) pending.push(segment.lines.slice());
    }
    return { base, pending };
  }

  /** Records queued or in flight (a rewrite counts one), for messages. */
  get records(): number {
    let count = this.#inflight?.length ?? 0;
    for (const segment of this.#segments) count += (segment.rewrite ? 1 : 0) + segment.lines.length;
    return count;
  }
}

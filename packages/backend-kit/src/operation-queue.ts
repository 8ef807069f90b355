import {
  type Entry,
  type Inflight,
  type Mark,
  operationsOf,
  type QueuedBatch,
  type QueueSnapshot,
  type Segment,
  segmentOf,
  sumBytes,
  type TakeOptions,
  valuesOf,
} from './queue-parts.js';

export type { QueuedBatch, QueueSnapshot, TakeOptions } from './queue-parts.js';

/**
 * The queue between a backend's `append`/`rewrite` and its writer: rewrites and the appends
 * after each, and the one batch the writer has in flight. One class for every queued backend, so
 * that the subtle cases are decided once:
 *
 * - A rewrite supersedes what was queued before it only once it is written: {@link take} hands
 *   the writer the newest rewrite first, and {@link written} then counts everything before it as
 *   done. A rewrite the store refuses ({@link requeue} with `dropRewrite`) is as if it had never
 *   been called: the appends before and after it are written, in order. Nothing accepted is lost.
 * - A failed batch goes back where it was, before the appends queued meanwhile, so the log keeps
 *   every record exactly once, in order. A rewrite queued while a batch is in flight is written
 *   next; an older rewrite that failed never overwrites a newer one.
 * - {@link snapshot} gives a reader the in-flight and queued work as one consistent view.
 * - Each append carries its size in bytes; {@link pendingBytes} counts the appends not written
 *   (appends a queued rewrite will supersede count until it is written).
 *
 * The writer's cycle, with a `WriterLoop` named `loop`:
 *
 * ```ts
 * const batch = queue.take();          // null: nothing queued
 * try {
 *   await store.write(batch);          // batch.rewrite (or null), then batch.appends
 *   loop.complete(queue.written());
 * } catch (error) {
 *   loop.fail(error, describe);        // first: rejects the waiting flushes
 *   loop.discard(queue.requeue());     // then: back where it was (returns 0 here)
 * }
 * ```
 *
 * Every method that ends operations returns how many, for `WriterLoop.complete` (written, or
 * superseded by a written rewrite) or `WriterLoop.discard` (given up), so the loop's counts
 * always match the queue. The queue does no I/O and never calls back: it is plain state.
 */
export class OperationQueue<R, A = string> {
  /** Only the first segment may lack a rewrite. */
  #segments: Segment<R, A>[] = [segmentOf()];
  #inflight: Inflight<R, A> | null = null;
  /** The batch {@link requeue} put back, until the next {@link take}. */
  #requeued: Inflight<R, A> | null = null;
  #pendingBytes = 0;
  /** Appends queued so far: the last one's `seq`. */
  #appendSeq = 0;
  /** Marks not reached yet, oldest first. */
  #marks: Mark<R, A>[] = [];
  #markIds = 0;
  #reachedMark = 0;
  /** An empty array with storage, kept from the last batch written (see {@link written}). */
  #spare: Entry<A>[] | null = null;

  /** Queues one append; `bytes` is its size for {@link pendingBytes} (UTF-8, say). */
  append(value: A, bytes = 0): void {
    const seq = ++this.#appendSeq;
    (this.#segments[this.#segments.length - 1] as Segment<R, A>).appends.push({
      value,
      bytes,
      seq,
    });
    this.#pendingBytes += bytes;
  }

  /**
   * Queues a replacement of the whole log (the array is kept as given: copy it first if the
   * caller may change it). What was queued before stays until the rewrite is written (then it is
   * superseded) or refused (then it is written as if the rewrite had never been called). Every
   * mark not reached yet is lost: it will never be reached (see {@link mark}).
   */
  rewrite(records: readonly R[]): void {
    this.#segments.push(segmentOf(records));
    this.#marks = [];
  }

  /**
   * Marks the queue's end, after every append and rewrite queued so far, and returns the mark's
   * number (1, 2, ...: later marks have higher numbers). From now on {@link take} never hands
   * the writer a batch that runs past it, so once the batch before it is written the store's end
   * is exactly the mark (a snapshot's position, say). {@link reachedMark} says when. A mark is
   * lost, never reached, when a rewrite is queued after it, or when the rewrite before it is
   * refused ({@link requeue} with `dropRewrite`, {@link drop}) or the queue cleared.
   */
  mark(): number {
    const id = ++this.#markIds;
    const segment = this.#segments[this.#segments.length - 1] as Segment<R, A>;
    this.#marks.push({ id, segment, afterSeq: this.#appendSeq });
    return id;
  }

  /**
   * The newest mark whose work (every append and rewrite queued before it) is written, or 0.
   * Read it between batches: the store's end then is that mark's place, unless a batch has been
   * written since it was reached.
   */
  get reachedMark(): number {
    while (this.#marks.length > 0 && this.#isReached(this.#marks[0] as Mark<R, A>)) {
      this.#reachedMark = (this.#marks.shift() as Mark<R, A>).id;
    }
    return this.#reachedMark;
  }

  /**
   * Hands the writer the next batch and marks it in flight, or returns `null` when nothing is
   * queued. The newest queued rewrite goes first, with the appends after it (see
   * {@link TakeOptions}); without one, the appends at the head. Only one batch is in flight at a
   * time: settle it ({@link written}, {@link requeue}, {@link drop}) before taking the next.
   */
  take(options: TakeOptions = {}): QueuedBatch<R, A> | null {
    if (this.#inflight) {
      throw new Error('OperationQueue.take: a batch is still in flight; settle it first.');
    }
    this.#requeued = null;
    const segment = this.#segments[this.#segments.length - 1] as Segment<R, A>;
    const rewrite = segment.rewrite !== null;
    if (!rewrite && segment.appends.length === 0) return null;
    let count = segment.appends.length;
    if (options.rewriteAlone && rewrite) count = 0;
    if (options.maxAppends !== undefined) {
      // Never an empty batch: without a rewrite, at least one append goes.
      count = Math.min(count, Math.max(rewrite ? 0 : 1, options.maxAppends));
    }
    // Never past a mark: the batch ends where the next one not reached is.
    count = Math.min(count, this.#appendsBeforeMark(segment));
    const appends = this.#takeAppends(segment, count);
    // Refused rewrites among these appends are done with the last of them.
    const settled = segment.appends.length === 0 ? segment.settled : 0;
    segment.settled -= settled;
    this.#inflight = { segment, rewrite, appends, settled };
    return { rewrite: segment.rewrite, appends: valuesOf(appends) };
  }

  /** The batch in flight, if any. */
  get inflight(): QueuedBatch<R, A> | null {
    const inflight = this.#inflight;
    if (!inflight) return null;
    return {
      rewrite: inflight.rewrite ? inflight.segment.rewrite : null,
      appends: valuesOf(inflight.appends),
    };
  }

  /**
   * The batch in flight was written. Returns its operations, and for a rewrite those of
   * everything queued before it (now superseded), for `WriterLoop.complete`.
   */
  written(): number {
    const batch = this.#settle();
    const done = this.#land(batch);
    // Nothing else holds a written batch's entries (take hands out a copy of their values):
    // its array is emptied (popped: its storage is kept) and becomes the next whole take's.
    const entries = batch.appends;
    while (entries.length > 0) entries.pop();
    this.#spare = entries;
    return done;
  }

  /**
   * The batch in flight failed: it goes back where it was, before the appends queued meanwhile,
   * to be retried (returns 0). With `dropRewrite` (a rewrite the store refused), its rewrite is
   * given up and its appends join those queued before it, to be written as if the rewrite had
   * never been called; returns the operations that ends at once, for `WriterLoop.discard` (1, or
   * 0 when the refused rewrite is instead done with the appends before it). Call
   * `WriterLoop.fail` (or `rejectWaiters`) first.
   */
  requeue(options: { dropRewrite?: boolean } = {}): number {
    const inflight = this.#settle();
    const segment = inflight.segment;
    segment.appends = inflight.appends.concat(segment.appends);
    segment.settled += inflight.settled;
    if (options.dropRewrite && inflight.rewrite) return this.#refuse(segment);
    this.#requeued = inflight;
    return 0;
  }

  /**
   * The batch in flight is given up for good (the store refused the one append it holds, say):
   * its appends are dropped, and its rewrite, if any, is refused as with `requeue({ dropRewrite:
   * true })`. Returns the operations that ends at once, for `WriterLoop.discard`.
   */
  drop(): number {
    const inflight = this.#settle();
    this.#pendingBytes -= sumBytes(inflight.appends);
    const dropped = inflight.appends.length;
    inflight.segment.settled += inflight.settled;
    if (inflight.rewrite) return dropped + this.#refuse(inflight.segment);
    return dropped + this.#settledHead();
  }

  /**
   * A batch put back by {@link requeue} turns out to have been written after all (a store that
   * can tell, say after a connection dropped around a commit): its first `appends` appends
   * (default: all of them) and its rewrite are counted as written. Returns the operations that
   * ends, for `WriterLoop.complete`; 0 when nothing was requeued since the last {@link take}.
   */
  acknowledgeRequeued(appends?: number): number {
    const requeued = this.#requeued;
    if (requeued === null) return 0;
    this.#requeued = null;
    const count = Math.max(
      0,
      Math.min(appends ?? requeued.appends.length, requeued.appends.length),
    );
    const segment = requeued.segment;
    const written = segment.appends.splice(0, count);
    const all = count === requeued.appends.length;
    const settled = all ? requeued.settled : 0;
    segment.settled -= settled;
    return this.#land({ segment, rewrite: requeued.rewrite, appends: written, settled });
  }

  /**
   * What a reader must add to the store's contents to see every record appended so far, taken at
   * one instant (copied: later appends do not shift it). `base` is the log the newest rewrite
   * will leave (read it instead of the store); `appends` come after.
   */
  snapshot(): QueueSnapshot<R, A> {
    let base: readonly R[] | null = null;
    let appends: A[] = [];
    const inflight = this.#inflight;
    for (const segment of this.#segments) {
      if (segment.rewrite !== null) {
        base = segment.rewrite;
        appends = [];
      }
      if (inflight?.segment === segment) appends.push(...valuesOf(inflight.appends));
      for (const entry of segment.appends) appends.push(entry.value);
    }
    return { base, appends };
  }

  /** Everything not written, oldest first (what a refused writer still holds). */
  unwritten(): QueuedBatch<R, A>[] {
    const out: QueuedBatch<R, A>[] = [];
    const inflight = this.#inflight;
    for (const segment of this.#segments) {
      const entries =
        inflight?.segment === segment ? inflight.appends.concat(segment.appends) : segment.appends;
      if (segment.rewrite === null && entries.length === 0) continue;
      out.push({ rewrite: segment.rewrite, appends: valuesOf(entries) });
    }
    return out;
  }

  /** Forgets everything queued and in flight (a writer refused for good); marks are lost. */
  clear(): void {
    this.#segments = [segmentOf()];
    this.#inflight = null;
    this.#requeued = null;
    this.#pendingBytes = 0;
    this.#marks = [];
  }

  /** Operations queued and not taken (a rewrite is one, an append is one). */
  get queuedOperations(): number {
    let operations = 0;
    for (const segment of this.#segments) operations += operationsOf(segment);
    // A rewrite in flight is still in its segment.
    return operations - (this.#inflight?.rewrite ? 1 : 0);
  }

  /** Operations queued or in flight: everything not done yet. */
  get operations(): number {
    const inflight = this.#inflight;
    return (
      this.queuedOperations +
      (inflight ? (inflight.rewrite ? 1 : 0) + inflight.appends.length + inflight.settled : 0)
    );
  }

  /** True when nothing is queued (a batch may still be in flight). */
  get empty(): boolean {
    return this.queuedOperations === 0;
  }

  /** The bytes of the appends queued or in flight, as given to {@link append}. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * The first `count` appends of `segment`, taken out of it. All of them (every durable append's
   * batch): the segment's array itself, replaced by the spare one, since `splice` allocated the
   * result and left the segment's array without storage for the next push (~200 bytes a batch).
   */
  #takeAppends(segment: Segment<R, A>, count: number): Entry<A>[] {
    if (count === 0 || count < segment.appends.length) return segment.appends.splice(0, count);
    const appends = segment.appends;
    segment.appends = this.#spare ?? [];
    this.#spare = null;
    return appends;
  }

  #settle(): Inflight<R, A> {
    const inflight = this.#inflight;
    if (!inflight) throw new Error('OperationQueue: no batch is in flight.');
    this.#inflight = null;
    return inflight;
  }

  /** True when everything queued before `mark` is written. */
  #isReached(mark: Mark<R, A>): boolean {
    const head = this.#segments[0] as Segment<R, A>;
    if (mark.segment !== head || head.rewrite !== null) return false;
    const inflight = this.#inflight;
    if (inflight?.segment === head && (inflight.appends[0]?.seq ?? Infinity) <= mark.afterSeq) {
      return false;
    }
    return (head.appends[0]?.seq ?? Infinity) > mark.afterSeq;
  }

  /** How many appends at the head of `segment` come before its next mark not reached. */
  #appendsBeforeMark(segment: Segment<R, A>): number {
    for (let i = 0; i < this.#marks.length; i++) {
      const mark = this.#marks[i] as Mark<R, A>;
      if (mark.segment !== segment) continue;
      let before = 0;
      while (before < segment.appends.length) {
        if ((segment.appends[before] as Entry<A>).seq > mark.afterSeq) break;
        before++;
      }
      // Nothing before it and no rewrite: reached already, look at the next one.
      if (before > 0 || segment.rewrite !== null) return before;
    }
    return segment.appends.length;
  }

  /** The rewrite of `segment` is given up: its appends join those before it, in order. */
  #refuse(segment: Segment<R, A>): number {
    // Marks after a refused rewrite stood for a log that will not be: lost.
    this.#marks = this.#marks.filter((mark) => mark.segment !== segment);
    const index = this.#segments.indexOf(segment);
    segment.rewrite = null;
    if (index === 0) return 1 + this.#settledHead();
    const previous = this.#segments[index - 1] as Segment<R, A>;
    previous.appends = previous.appends.concat(segment.appends);
    previous.settled += segment.settled + 1;
    this.#segments.splice(index, 1);
    return this.#settledHead();
  }

  /** Refused rewrites left at the head with nothing to write around them: done now. */
  #settledHead(): number {
    const head = this.#segments[0] as Segment<R, A>;
    if (
      this.#inflight !== null ||
      this.#segments.length > 1 ||
      head.rewrite !== null ||
      head.appends.length > 0
    )
      return 0;
    const done = head.settled;
    head.settled = 0;
    return done;
  }

  /** `batch` (taken from its segment) was written: a rewrite supersedes what came before it. */
  #land(batch: Inflight<R, A>): number {
    let done = batch.appends.length + batch.settled;
    this.#pendingBytes -= sumBytes(batch.appends);
    if (batch.rewrite) {
      const index = this.#segments.indexOf(batch.segment);
      for (const earlier of this.#segments.slice(0, index)) {
        done += operationsOf(earlier);
        this.#pendingBytes -= sumBytes(earlier.appends);
      }
      this.#segments = this.#segments.slice(index);
      batch.segment.rewrite = null;
      done += 1;
    }
    return done + this.#settledHead();
  }
}

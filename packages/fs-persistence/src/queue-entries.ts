/**
 * What the writer's queue holds besides lines: a title, riding with the appends in order (the
 * writer stores it before the batch it came in; a failed batch puts it back).
 */
export interface TitleMark {
  readonly mark: 'title';
  readonly title: string;
}

/**
 * A queued line is its stream offset in `PendingLines` (a number: no object per record, and the
 * line itself off the JS heap); or a title.
 */
export type QueuedEntry = number | TitleMark;

/** A batch of entries as the writer handles it. */
export interface SplitBatch {
  /** Stream offsets of the batch's first and last lines (-1: no line). */
  first: number;
  last: number;
  /** How many lines. */
  lines: number;
  /** The newest title in the batch. */
  title: string | undefined;
}

/**
 * The lines and the newest title of a batch. The lines of a batch are consecutive in the stream
 * (the queue hands out appends in the order they were added; appends a written rewrite
 * superseded are all before it), so the first and last say which bytes to write.
 */
export function splitBatch(entries: readonly QueuedEntry[]): SplitBatch {
  let first = -1;
  let last = -1;
  let lines = 0;
  let title: string | undefined;
  // An index loop: per batch, and a for-of allocates until optimised.
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as QueuedEntry;
    if (typeof entry === 'number') {
      if (first === -1) first = entry;
      last = entry;
      lines++;
    } else {
      title = entry.title;
    }
  }
  return { first, last, lines, title };
}

/**
 * What the writer's queue holds besides lines: a title, riding with the appends in order (the
 * writer stores it before the batch it came in; a failed batch puts it back).
 */
export interface TitleMark {
  readonly mark: 'title';
  readonly title: string;
}

export type QueuedEntry = string | TitleMark;

/** A batch of entries as the writer handles it. */
export interface SplitBatch {
  lines: readonly string[];
  /** The newest title in the batch. */
  title: string | undefined;
}

export function splitBatch(entries: readonly QueuedEntry[]): SplitBatch {
  let titles = 0;
  let title: string | undefined;
  // An index loop: per batch, and a for-of allocates until optimised.
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as QueuedEntry;
    if (typeof entry !== 'string') {
      titles++;
      title = entry.title;
    }
  }
  // Lines only (every durable append): the batch as it is, no copy.
  if (titles === 0) return { lines: entries as readonly string[], title };
  const lines: string[] = [];
  for (const entry of entries) if (typeof entry === 'string') lines.push(entry);
  return { lines, title };
}

/** The lines among `entries` (what a reader reads of the queue). */
export function linesOf(entries: readonly QueuedEntry[]): string[] {
  const lines: string[] = [];
  for (const entry of entries) if (typeof entry === 'string') lines.push(entry);
  return lines;
}

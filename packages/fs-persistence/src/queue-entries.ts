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
  lines: string[];
  /** The newest title in the batch. */
  title: string | undefined;
}

export function splitBatch(entries: readonly QueuedEntry[]): SplitBatch {
  const split: SplitBatch = { lines: [], title: undefined };
  for (const entry of entries) {
    if (typeof entry === 'string') split.lines.push(entry);
    else split.title = entry.title;
  }
  return split;
}

/** The lines among `entries` (what a reader reads of the queue). */
export function linesOf(entries: readonly QueuedEntry[]): string[] {
  const lines: string[] = [];
  for (const entry of entries) if (typeof entry === 'string') lines.push(entry);
  return lines;
}

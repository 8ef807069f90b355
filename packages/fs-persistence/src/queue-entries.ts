/**
 * What the writer's queue holds besides lines: marks that ride with the appends, in order, so
 * that what they stand for happens exactly where they were queued. A rewrite written after a
 * mark supersedes it, as it supersedes the lines before it; a failed batch puts it back.
 */
export interface TitleMark {
  readonly mark: 'title';
  readonly title: string;
}

/** A snapshot asked for: it covers every line queued before it (`request` is the backend's). */
export interface SnapshotMark<S = unknown> {
  readonly mark: 'snapshot';
  readonly request: S;
}

export type QueuedEntry = string | TitleMark | SnapshotMark;

/** A batch of entries as the writer handles it. */
export interface SplitBatch {
  lines: string[];
  /** The newest title in the batch. */
  title: string | undefined;
  /** Each snapshot mark, with how many of `lines` come before it. */
  snapshots: Array<{ request: unknown; after: number }>;
}

export function splitBatch(entries: readonly QueuedEntry[]): SplitBatch {
  const split: SplitBatch = { lines: [], title: undefined, snapshots: [] };
  for (const entry of entries) {
    if (typeof entry === 'string') split.lines.push(entry);
    else if (entry.mark === 'title') split.title = entry.title;
    else split.snapshots.push({ request: entry.request, after: split.lines.length });
  }
  return split;
}

/** The lines among `entries` (what a reader reads of the queue). */
export function linesOf(entries: readonly QueuedEntry[]): string[] {
  const lines: string[] = [];
  for (const entry of entries) if (typeof entry === 'string') lines.push(entry);
  return lines;
}

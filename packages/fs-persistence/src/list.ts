import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  compareByLastActivity,
  type ListSessionsOptions,
  type SessionSummary,
} from '@agent-records/types';
import { errorCode } from './file-operations.js';
import { readLockHolder } from './lock.js';
import { createdAtOfFirstLine, type LogSummary, readLogSummarySync } from './summary.js';

export const LOG_SUFFIX = '.jsonl';
/**
 * Lines of a log that its summary does not cover (no summary, or one older than the log) are
 * counted when there are at most this many bytes of them; beyond, `records` is left out: a
 * listing reads summaries, never whole logs.
 */
export const COUNT_LIMIT_BYTES = 256 * 1024;
/**
 * Files stat'ed, or sessions described, per turn of the event loop. Listing uses synchronous
 * calls in slices: tens of thousands of tiny calls through the thread pool cost several times
 * more (a `stat` each, a few calls per summary), and a slice blocks for a few milliseconds only.
 */
const STATS_PER_SLICE = 2000;
const SESSIONS_PER_SLICE = 100;
const HEAD_BYTES = 64 * 1024;

/** One session as the file store's `list()` describes it. */
export interface SessionInfo extends SessionSummary {
  /** The log's path. */
  readonly file: string;
  /** @deprecated The same as `bytes` (kept for callers written before summaries). */
  readonly size: number;
  /** @deprecated The same as `updatedAt` (kept for callers written before summaries). */
  readonly modifiedAt: number;
}

interface Candidate {
  id: string;
  file: string;
  size: number;
  /** The log's modification time in whole milliseconds: the session's last activity. */
  updatedAt: number;
  ino: number;
  birthtimeMs: number;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The sessions of a store folder, newest activity first (the log's mtime), then by id; paged
 * with `limit` and `after`. Every log is stat'ed (the order needs it); only the sessions of the
 * page have their summary file read (and their lock, when one exists), so a page costs one
 * `readdir`, one `stat` per session and a few small reads per listed session.
 */
export async function listSessions(
  root: string,
  options: ListSessionsOptions = {},
): Promise<SessionInfo[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0)) throw new RangeError(`list(): limit must be a number >= 0, not ${limit}.`);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  // Which logs have a summary or a lock, from the listing itself: no failed open per session.
  const present = new Set(names);
  const candidates = await statLogs(root, names);
  candidates.sort(compareByLastActivity);
  let start = 0;
  if (options.after) {
    const mark = options.after;
    while (
      start < candidates.length &&
      compareByLastActivity(candidates[start] as Candidate, mark) <= 0
    ) {
      start++;
    }
  }
  const page = candidates.slice(start, start + limit);
  const buffer = Buffer.allocUnsafe(HEAD_BYTES);
  const out: SessionInfo[] = [];
  for (let i = 0; i < page.length; i++) {
    if (i > 0 && i % SESSIONS_PER_SLICE === 0) await nextTurn();
    out.push(await describe(page[i] as Candidate, present, buffer));
  }
  return out;
}

/**
 * One session, as `list()` would describe it, from its log's path (the store's `summaryOf`):
 * one `stat`, its summary and lock; no other session is looked at. Null when it has no log.
 */
export async function describeSession(file: string, id: string): Promise<SessionInfo | null> {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(file, { throwIfNoEntry: false });
  } catch {
    return null; // unreadable (EACCES, a dangling link): as list() leaves it out
  }
  if (!info?.isFile()) return null;
  const name = path.basename(file);
  // Both looked for: a missing summary or lock reads as none.
  const present = new Set([`${name}.summary.json`, `${name}.lock`]);
  const candidate = {
    id,
    file,
    size: info.size,
    // Whole milliseconds, as every store gives them: a cursor passed through JSON or rounded by
    // a host still names the same place.
    updatedAt: Math.floor(info.mtimeMs),
    ino: info.ino,
    birthtimeMs: Math.floor(info.birthtimeMs),
  };
  return describe(candidate, present, Buffer.allocUnsafe(HEAD_BYTES));
}

/** Stats every session log (following symlinks); names that are not files are left out. */
async function statLogs(root: string, names: string[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  let done = 0;
  for (const name of names) {
    if (!name.endsWith(LOG_SUFFIX) || name.startsWith('.')) continue;
    if (++done % STATS_PER_SLICE === 0) await nextTurn();
    const file = `${root}${path.sep}${name}`; // root is resolved: no join needed per log
    let info: ReturnType<typeof statSync>;
    try {
      info = statSync(file, { throwIfNoEntry: false });
    } catch {
      continue; // unreadable (EACCES, a dangling link): not a session we can list
    }
    if (!info?.isFile()) continue;
    out.push({
      id: name.slice(0, -LOG_SUFFIX.length),
      file,
      size: info.size,
      updatedAt: Math.floor(info.mtimeMs),
      ino: info.ino,
      birthtimeMs: Math.floor(info.birthtimeMs),
    });
  }
  return out;
}

/** One listed session: its stat, its summary when it matches, its lock holder. */
async function describe(
  candidate: Candidate,
  present: Set<string>,
  buffer: Buffer,
): Promise<SessionInfo> {
  const { id, file, size, updatedAt } = candidate;
  const name = path.basename(file);
  const summary = present.has(`${name}.summary.json`) ? readLogSummarySync(file, buffer) : null;
  const records = recordsOf(candidate, summary, buffer);
  // A summary of an empty log only guessed createdAt; the log's first record says it.
  const createdAt =
    (summary && summary.bytes > 0 ? summary.createdAt : undefined) ??
    createdAtInHead(file, buffer) ??
    (candidate.birthtimeMs > 0 ? candidate.birthtimeMs : updatedAt);
  let lockedBy: number | undefined;
  if (present.has(`${name}.lock`)) {
    const holder = await readLockHolder(`${file}.lock`).catch(() => null);
    if (holder?.alive && holder.pid > 0) lockedBy = holder.pid;
  }
  return {
    id,
    file,
    createdAt,
    updatedAt,
    ...(records !== undefined && { records }),
    bytes: size,
    ...(summary?.title !== undefined && { title: summary.title }),
    ...(lockedBy !== undefined && { lockedBy }),
    size,
    modifiedAt: updatedAt,
  };
}

/**
 * The summary's count when it describes the log as it is (same inode, same size); when the log
 * grew since, plus the lines after it if they are few; with no usable summary, the log's lines if
 * it is small; else unknown.
 */
function recordsOf(
  candidate: Candidate,
  summary: LogSummary | null,
  buffer: Buffer,
): number | undefined {
  const { file, size, ino } = candidate;
  if (summary?.records !== undefined && summary.ino === ino) {
    if (summary.bytes === size) return summary.records;
    if (summary.bytes < size && size - summary.bytes <= COUNT_LIMIT_BYTES) {
      const counted = countLines(file, summary.bytes, size, buffer);
      if (counted !== null) return summary.records + counted;
    }
  }
  if (size <= COUNT_LIMIT_BYTES) return countLines(file, 0, size, buffer) ?? undefined;
  return undefined;
}

/**
 * Lines in bytes `from` to `to` of a file (a last one without its newline counts); null when
 * `from` is not a line start (the byte before it is not a newline) or the file is unreadable.
 */
function countLines(file: string, from: number, to: number, buffer: Buffer): number | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    if (from > 0) {
      if (readSync(fd, buffer, 0, 1, from - 1) !== 1 || buffer[0] !== 0x0a) return null;
    }
    let lines = 0;
    let last = 0x0a;
    for (let position = from; position < to; ) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, to - position), position);
      if (read === 0) break;
      const view = buffer.subarray(0, read);
      for (let at = view.indexOf(0x0a); at !== -1; at = view.indexOf(0x0a, at + 1)) lines++;
      last = view[read - 1] as number;
      position += read;
    }
    return last === 0x0a ? lines : lines + 1;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The first record's `created_at`, from at most the first 64 KiB of the log. */
function createdAtInHead(file: string, buffer: Buffer): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    return createdAtOfFirstLine(buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

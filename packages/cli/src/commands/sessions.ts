import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  FileSystemAgentRecordStore,
  type LockHolderState,
  readLockHolder,
  type SessionInfo,
} from '@agent-records/fs-persistence';
import { RecordsInvalidSessionIdError, type SessionSummary } from '@agent-records/types';
import { displayWidth, fitToWidth, padEndToWidth, padStartToWidth } from '../display-width.js';
import { CliError, EXIT } from '../errors.js';
import { formatAge, formatBytes } from '../format.js';
import { type CliIo, runGuarded } from '../io.js';
import { terminalJsonReport, terminalText } from '../terminal-text.js';

/** Who holds a session's lock, stale holders included (the store's list shows live ones only). */
export interface SessionLock {
  pid: number;
  host: string;
  state: LockHolderState | 'not-a-lock';
}

/** One row of `agent-records sessions`: the store's summary, and the lock file's holder. */
export interface SessionRow extends SessionSummary {
  /** The log's path. */
  file: string;
  /** Who holds the lock, stale or not; null when there is no lock file. */
  lock: SessionLock | null;
}

/** Titles longer than this many columns are cut in the table (`--json` has them whole). */
const TITLE_COLUMNS = 60;

/**
 * The sessions of a store root from their summaries (the store's `list()`: never a whole log
 * read), newest activity first, with every lock file's holder judged (a stale lock is shown as
 * stale, not hidden). `limit` and `after` (a session id: the last of the previous page) page
 * through the list.
 */
export async function listSessions(
  root: string,
  options: { limit?: number; after?: string } = {},
): Promise<SessionRow[]> {
  const store = new FileSystemAgentRecordStore(root);
  let after: SessionInfo | undefined;
  if (options.after !== undefined) {
    // The store pages after a summary ({ id, updatedAt }): look that session up (one stat), so
    // the order rule stays in the store and the page costs what the first page costs.
    after =
      (await store.summaryOf(options.after).catch((error: unknown) => {
        // An id no session can have: the same answer as an id no session has.
        if (error instanceof RecordsInvalidSessionIdError) return null;
        throw error;
      })) ?? undefined;
    if (after === undefined) throw unknownAfter(root, options.after);
  }
  const page = await store.list({ limit: options.limit, after });
  const rows: SessionRow[] = page.map(({ size: _size, modifiedAt: _modifiedAt, ...summary }) => ({
    ...summary,
    lock: null,
  }));
  await addLocks(store, rows);
  return rows;
}

function unknownAfter(root: string, id: string): CliError {
  return new CliError(
    `--after ${JSON.stringify(id)}: ${root} has no such session. Give the id of the last session of the previous page.`,
    EXIT.usage,
  );
}

/**
 * Reads the lock file of each row that has one. One `readdir` tells which do, so a page of
 * sessions costs a read per lock file, not an open attempt per session.
 */
async function addLocks(store: FileSystemAgentRecordStore, rows: SessionRow[]): Promise<void> {
  if (rows.length === 0) return;
  const names = new Set(await readdir(store.rootDir).catch(() => [] as string[]));
  for (const row of rows) {
    const lockFile = `${row.file}.lock`;
    if (!names.has(path.basename(lockFile))) continue;
    try {
      const holder = await readLockHolder(lockFile);
      if (holder) row.lock = { pid: holder.pid, host: holder.host, state: holder.state };
    } catch {
      // Not a lock file: nothing tells whether its owner still writes; `unlock` explains.
      row.lock = { pid: 0, host: '', state: 'not-a-lock' };
    }
  }
}

/** The lock column: who holds it and whether that writer still runs. */
function describeLock(lock: SessionLock | null): string {
  if (!lock) return '-';
  switch (lock.state) {
    case 'alive':
      return `pid ${lock.pid}`;
    case 'dead':
    case 'previous-boot':
      return `stale (pid ${lock.pid} gone)`;
    case 'other-host':
      return `pid ${lock.pid} on ${lock.host}`;
    case 'not-a-lock':
      return 'not a lock file (see unlock)';
  }
}

/** A value for a shell command line: quoted unless plainly safe. */
function shellWord(text: string): string {
  return /^[\w.@%+=:,/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Parses `--limit`: a whole number of sessions, at least 1. */
function parseLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || value.trim() === '') {
    throw new CliError(
      `--limit must be a whole number of sessions (1 or more), not ${value}`,
      EXIT.usage,
    );
  }
  return n;
}

/**
 * Text for one terminal cell: whitespace runs as one space, other control characters (an escape
 * sequence in a host-set title, or in the name of a log another tool wrote) and bidirectional
 * controls as U+FFFD, so they can neither break the table nor reach the terminal.
 */
function cell(text: string): string {
  return terminalText(text.replace(/\s+/g, ' '));
}

/** The table: columns aligned by display width, so CJK and emoji ids line up. */
function table(rows: SessionRow[], now: number): string {
  const cells = rows.map((row) => ({
    id: cell(row.id),
    updated: formatAge(row.updatedAt, now),
    records: row.records === undefined ? '?' : String(row.records),
    size: formatBytes(row.bytes),
    lock: describeLock(row.lock),
    title: row.title === undefined ? '-' : fitToWidth(cell(row.title), TITLE_COLUMNS),
  }));
  const header = {
    id: 'id',
    updated: 'updated',
    records: 'records',
    size: 'size',
    lock: 'lock',
    title: 'title',
  };
  const all = [header, ...cells];
  const width = (key: keyof typeof header) => Math.max(...all.map((c) => displayWidth(c[key])));
  const w = {
    id: width('id'),
    updated: width('updated'),
    records: width('records'),
    size: width('size'),
    lock: width('lock'),
  };
  return all
    .map((c) =>
      [
        padEndToWidth(c.id, w.id),
        padEndToWidth(c.updated, w.updated),
        padStartToWidth(c.records, w.records),
        padStartToWidth(c.size, w.size),
        padEndToWidth(c.lock, w.lock),
        c.title,
      ]
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `agent-records sessions`: a table (or JSON) of a store's sessions, newest activity first.
 * `--limit N` shows a page; when more follow, stderr says how to get the next one
 * (`--after <id>` of the page's last session).
 */
export async function runSessions(
  args: { root: string; json?: boolean; limit?: string; after?: string },
  io: CliIo,
  now: number = Date.now(),
): Promise<number> {
  return runGuarded(io, async () => {
    const { root } = args;
    const limit = parseLimit(args.limit);
    // One more than the page, to know whether another page follows.
    const fetched = await listSessions(root, {
      limit: limit === undefined ? undefined : limit + 1,
      after: args.after,
    });
    const rows = limit === undefined ? fetched : fetched.slice(0, limit);
    const more = fetched.length > rows.length;
    if (args.json) io.out.write(`${terminalJsonReport(rows)}\n`);
    else if (rows.length === 0) {
      io.out.write(
        `${root}: no sessions${args.after === undefined ? '' : ` after ${args.after}`}\n`,
      );
    } else io.out.write(`${table(rows, now)}\n`);
    const last = rows.at(-1);
    if (more && last) {
      // An id from a file name another tool wrote may hold control characters: shown safely.
      io.err.write(
        `${terminalText(`more sessions follow: agent-records sessions ${shellWord(root)} --limit ${limit} --after ${shellWord(last.id)}`)}\n`,
      );
    }
    return EXIT.ok;
  });
}

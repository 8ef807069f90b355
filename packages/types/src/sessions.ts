/**
 * One session as a store's `list()` describes it, from cheap facts (never by reading its whole
 * log): a small summary the writer keeps beside the log, or the sessions table.
 */
export interface SessionSummary {
  /** The session id, as given to `open()`. */
  readonly id: string;
  /** When the log was started (epoch ms): its first metadata record's `created_at` when known. */
  readonly createdAt: number;
  /** Last activity (epoch ms): the last write to the log. The list is sorted by it, newest first. */
  readonly updatedAt: number;
  /** Records in the log, metadata included. Absent only when it cannot be known cheaply. */
  readonly records?: number;
  /** Size of the log in bytes (as stored). */
  readonly bytes: number;
  /** The host-set title (`AgentRecords.setTitle`), if any. */
  readonly title?: string;
  /** Process id of the live writer holding the session's lock, if any (stores with locks). */
  readonly lockedBy?: number;
}

/** Paging for `list()`. */
export interface ListSessionsOptions {
  /** At most this many sessions (default: all). */
  readonly limit?: number;
  /**
   * Start after this session in the order (newest `updatedAt` first, then id): pass the last
   * summary of the previous page. A session written to between pages moves to the front, so a
   * later page does not show it again.
   */
  readonly after?: Pick<SessionSummary, 'id' | 'updatedAt'>;
}

/**
 * Many sessions, one log each. Every backend's store has this shape (`FileSystemAgentRecordStore`,
 * `PostgresAgentRecordStore`, `InMemoryAgentRecordStore`); its own may add to it.
 */
export interface AgentRecordStore<P = unknown, S extends SessionSummary = SessionSummary> {
  /** The persistence of one session; refuses an invalid id with `RecordsInvalidSessionIdError`. */
  open(sessionId: string): P;
  /** Sessions by last activity, newest first, from their summaries. */
  list(options?: ListSessionsOptions): Promise<S[]>;
  /** Removes a session's log and everything kept beside it; false when there was none. */
  delete(sessionId: string): Promise<boolean>;
}

/**
 * The one order of every store's `list()`: newest `updatedAt` first, then `id` ascending (UTF-16
 * code unit order, as `<` compares strings). Also decides which sessions come `after` a cursor:
 * those that compare greater than it.
 */
export function compareByLastActivity(
  a: Pick<SessionSummary, 'id' | 'updatedAt'>,
  b: Pick<SessionSummary, 'id' | 'updatedAt'>,
): number {
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

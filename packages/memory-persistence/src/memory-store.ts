import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordStore,
  assertSessionId,
  compareByLastActivity,
  type ListSessionsOptions,
  RecordsLockedError,
  type SessionSummary,
} from '@agent-records/types';
import { type MemoryLog, memoryLogOf } from './memory-log.js';
import {
  InMemoryAgentRecordPersistence,
  type InMemoryAgentRecordPersistenceOptions,
  shareLog,
} from './memory-persistence.js';

/**
 * Many sessions in memory, one log each, for tests: the store shape every backend has
 * (`open`, `list`, `delete`). Persistences opened on the same id share one log, as two opens of
 * one file do: what one writes, the next one opened reads.
 */
export class InMemoryAgentRecordStore
  implements AgentRecordStore<InMemoryAgentRecordPersistence<AgentRecordEnvelope>>
{
  readonly #logs = new Map<string, MemoryLog<AgentRecordEnvelope>>();
  readonly #options: InMemoryAgentRecordPersistenceOptions<AgentRecordEnvelope>;

  /** `options` are given to every persistence it opens (`open` may add to them). */
  constructor(options: InMemoryAgentRecordPersistenceOptions<AgentRecordEnvelope> = {}) {
    this.#options = options;
  }

  /**
   * The persistence of one session, on the log it shares with every other opened on that id.
   * Refuses an invalid id (`sessionIdProblem` of the types package: empty, a path separator,
   * `..`, a leading `.`, control characters, too long) with `RecordsInvalidSessionIdError`.
   */
  open<R extends AgentRecordEnvelope = AgentRecord>(
    sessionId: string,
    options: InMemoryAgentRecordPersistenceOptions<R> = {},
  ): InMemoryAgentRecordPersistence<R> {
    assertSessionId(sessionId);
    let log = this.#logs.get(sessionId);
    if (!log) {
      log = memoryLogOf<AgentRecordEnvelope>([], 0);
      this.#logs.set(sessionId, log);
    }
    const persistence = new InMemoryAgentRecordPersistence<R>([], {
      ...(this.#options as InMemoryAgentRecordPersistenceOptions<R>),
      ...options,
    });
    shareLog(persistence, log as MemoryLog<R>);
    return persistence;
  }

  /**
   * The sessions with a log (something was written to it, a title included), by last write, newest first, then
   * by id; `after` (the last summary of the previous page) and `limit` page through them.
   * `createdAt` is the first record's `created_at` when it is a metadata record, else when the
   * first write landed; `bytes` is the log's size as JSON Lines in UTF-8.
   */
  async list(options: ListSessionsOptions = {}): Promise<SessionSummary[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) {
      throw new TypeError(`list({ limit }) takes a number of sessions >= 0, not ${limit}.`);
    }
    const after = options.after;
    const sessions: SessionSummary[] = [];
    for (const [id, log] of this.#logs) {
      const summary = summaryOf(id, log);
      if (summary && (!after || comesAfter(summary, after))) sessions.push(summary);
    }
    sessions.sort(compareByLastActivity);
    return sessions.slice(0, limit);
  }

  /**
   * Removes a session's log with its snapshot and title; false when it had none. Refused with
   * `RecordsLockedError` while a persistence that wrote to it is still open (as the file backend
   * refuses while a live writer holds the lock). A persistence opened on it before keeps
   * nothing of it: what it writes next is refused with `RecordsConflictError` (reported, never
   * dropped in silence); a later `open` starts a new log.
   */
  async delete(sessionId: string): Promise<boolean> {
    assertSessionId(sessionId);
    const log = this.#logs.get(sessionId);
    // Opened but never written: no log yet, and a persistence open on it may still write one.
    if (log?.firstWrittenAt === undefined) return false;
    if (log.writer !== null) {
      throw new RecordsLockedError(
        `Session ${sessionId} is being written by a persistence that is still open; close it ` +
          'first, then delete the session. Nothing was deleted.',
      );
    }
    log.deleted = true;
    this.#logs.delete(sessionId);
    return true;
  }
}

function summaryOf(id: string, log: MemoryLog<AgentRecordEnvelope>): SessionSummary | null {
  const firstWrittenAt = log.firstWrittenAt;
  if (firstWrittenAt === undefined) return null; // opened, never written: no log yet
  // A title alone makes the session (as it does on fs and pg): active since it landed.
  const updatedAt = log.updatedAt ?? firstWrittenAt;
  const first = log.records[0] as { type?: unknown; created_at?: unknown } | undefined;
  const createdAt =
    first?.type === 'metadata' && typeof first.created_at === 'number'
      ? first.created_at
      : firstWrittenAt;
  return {
    id,
    createdAt,
    updatedAt,
    records: log.records.length,
    bytes: log.bytes,
    ...(log.title !== undefined && { title: log.title }),
  };
}

function comesAfter(
  summary: SessionSummary,
  after: Pick<SessionSummary, 'id' | 'updatedAt'>,
): boolean {
  return compareByLastActivity(summary, after as SessionSummary) > 0;
}

import { unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordStore,
  assertSessionId as assertValidSessionId,
  type ListSessionsOptions,
} from '@agent-records/types';
import { type BlobGarbageReport, collectBlobGarbage, logFilesIn } from './blobs/gc.js';
import { errorCode, nodeFileOperations, syncDirectory } from './file-operations.js';
import {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from './fs-persistence.js';
import { describeSession, LOG_SUFFIX, listSessions, type SessionInfo } from './list.js';
import { WriterLock } from './lock.js';
import { snapshotPathOf } from './snapshot-file.js';
import { summaryPathOf } from './summary.js';

export type { SessionInfo } from './list.js';

/**
 * Checks a session id against the one rule every store shares (`sessionIdProblem` in the types
 * package): a non-empty name without path separators, `..`, a leading `.`, NUL or control
 * characters, at most `MAX_SESSION_ID_BYTES` (175) bytes in UTF-8. That bound leaves 80 bytes of
 * the 255-byte file name limit for what this backend appends: at most 57, the snapshot temp
 * file `.<id>.jsonl.<uuid>.snapshot.tmp` (then the rewrite and summary temp files
 * `.<id>.jsonl.<uuid>.rewrite.tmp` / `.summary.tmp`, 56; the summary `<id>.jsonl.summary.json`,
 * 19; the snapshot `<id>.jsonl.snapshot`, 15). Throws `RecordsInvalidSessionIdError` otherwise.
 */
export function assertSessionId(sessionId: unknown): asserts sessionId is string {
  assertValidSessionId(sessionId);
}

/**
 * One JSON Lines log per session under a root folder: `<root>/<sessionId>.jsonl`.
 */
export class FileSystemAgentRecordStore
  implements AgentRecordStore<FileSystemAgentRecordPersistence<AgentRecord>, SessionInfo>
{
  readonly rootDir: string;
  readonly #options: FileSystemAgentRecordPersistenceOptions;

  constructor(rootDir: string, options: FileSystemAgentRecordPersistenceOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    this.#options = options;
  }

  /** The log path of a session (validated). */
  fileOf(sessionId: string): string {
    assertSessionId(sessionId);
    return path.join(this.rootDir, `${sessionId}${LOG_SUFFIX}`);
  }

  /**
   * The persistence of one session; nothing touches the disk until it reads or writes. Typed
   * with the standard catalog (`AgentRecord`) unless a host names its own record type.
   */
  open<R extends AgentRecordEnvelope = AgentRecord>(
    sessionId: string,
    options: FileSystemAgentRecordPersistenceOptions = {},
  ): FileSystemAgentRecordPersistence<R> {
    return new FileSystemAgentRecordPersistence<R>(this.fileOf(sessionId), {
      ...this.#options,
      ...options,
    });
  }

  /**
   * The sessions under the root, newest activity first (the log's last write), then by id:
   * `limit` sessions after `after` (the last of the previous page). Answers from cheap facts
   * only: one `readdir`, a `stat` per log, and for the listed sessions the summary file the
   * writer keeps beside each log (records, createdAt, title) and the lock. A log whose summary
   * is missing or older than the log has the lines the summary does not cover counted when they
   * are at most 256 KiB; beyond that `records` is left out (never a whole log read). An absent
   * root lists nothing.
   */
  list(options: ListSessionsOptions = {}): Promise<SessionInfo[]> {
    return listSessions(this.rootDir, options);
  }

  /**
   * One session's entry as `list()` shows it (records, createdAt, updatedAt, title, lock
   * holder), by id, without listing the others; null when the session has no log.
   */
  async summaryOf(sessionId: string): Promise<SessionInfo | null> {
    return describeSession(this.fileOf(sessionId), sessionId);
  }

  /**
   * Removes blobs that no session of this store references (needs the `blobs` option). Blobs
   * younger than `minAgeMs` (default one hour) are kept: a live writer may be about to point at
   * them.
   */
  async collectBlobGarbage(
    options: { dryRun?: boolean; minAgeMs?: number } = {},
  ): Promise<BlobGarbageReport> {
    const blobs = this.#options.blobs;
    if (!blobs) {
      throw new TypeError('This store has no blobs option: there is no blob folder to collect.');
    }
    // Every log file of the root, not only the sessions list() shows: a blob must outlive its
    // last reference, whatever the log's name.
    return collectBlobGarbage({
      blobDir: blobs.dir,
      logs: await logFilesIn(this.rootDir),
      ...options,
    });
  }

  /**
   * Deletes a session's log, its snapshot and summary files, and its lock. Refuses
   * (`RecordsLockedError`) while a live writer holds it, when another host's writer does, or when
   * the lock file is not a lock. It takes the lock itself first (a stale one is taken over), so
   * no writer can start between the check and the unlink. The snapshot goes first (with the
   * folder synced): a crash midway never leaves a snapshot beside a log that is not its own.
   * Kept torn tails are left for inspection. Returns false when there was no such log.
   */
  async delete(sessionId: string): Promise<boolean> {
    const file = this.fileOf(sessionId);
    const lock = new WriterLock(nodeFileOperations, `${file}.lock`, file, 0o600);
    try {
      await lock.acquire();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false; // no root folder: no session
      throw error;
    }
    const remove = (target: string) =>
      unlink(target).then(
        () => true,
        (error) => {
          if (errorCode(error) === 'ENOENT') return false;
          throw error;
        },
      );
    try {
      if (await remove(snapshotPathOf(file))) await syncDirectory(nodeFileOperations, this.rootDir);
      const existed = await remove(file);
      await remove(summaryPathOf(file));
      return existed;
    } finally {
      await lock.release();
    }
  }
}

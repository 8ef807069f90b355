import { createReadStream } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  RecordsInvalidSessionIdError,
  sessionIdProblem,
} from '@agent-records/types';
import { type BlobGarbageReport, collectBlobGarbage, logFilesIn } from './blobs/gc.js';
import { errorCode, nodeFileOperations } from './file-operations.js';
import {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from './fs-persistence.js';
import { readLockHolder, WriterLock } from './lock.js';

const LOG_SUFFIX = '.jsonl';
/** Logs up to this size get a record count in `list()`; counting bigger ones is not cheap. */
const COUNT_LIMIT_BYTES = 8 * 1024 * 1024;

/** One session as `list()` describes it. */
export interface SessionInfo {
  id: string;
  /** The log's path. */
  file: string;
  /** Bytes on disk. */
  size: number;
  /** Non-blank lines, for logs up to 8 MiB; undefined for bigger ones. */
  records?: number;
  /** Last modification time, epoch ms. */
  modifiedAt: number;
  /** Pid of the live writer holding the session's lock, if any. */
  lockedBy?: number;
}

/**
 * Checks a session id against the one rule every store shares (`sessionIdProblem` in the types
 * package): a non-empty name without path separators, `..`, a leading `.`, NUL or control
 * characters, at most `MAX_SESSION_ID_BYTES` (175) bytes in UTF-8. That bound leaves 80 bytes of
 * the 255-byte file name limit for what this backend appends: today at most 56
 * (`.<id>.jsonl.<uuid>.rewrite.tmp`), and a summary temp file planned. Throws
 * `RecordsInvalidSessionIdError` otherwise.
 */
export function assertSessionId(sessionId: unknown): asserts sessionId is string {
  const problem = sessionIdProblem(sessionId);
  if (problem !== null) throw new RecordsInvalidSessionIdError(sessionId, problem);
}

/**
 * One JSON Lines log per session under a root folder: `<root>/<sessionId>.jsonl`.
 */
export class FileSystemAgentRecordStore {
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

  /** Every session under the root, sorted by id. An absent root lists nothing. */
  async list(): Promise<SessionInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.rootDir);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
    const sessions: SessionInfo[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(LOG_SUFFIX) || name.startsWith('.')) continue;
      const id = name.slice(0, -LOG_SUFFIX.length);
      const file = path.join(this.rootDir, name);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) continue;
      const session: SessionInfo = { id, file, size: info.size, modifiedAt: info.mtimeMs };
      if (info.size <= COUNT_LIMIT_BYTES) session.records = await countLines(file);
      const holder = await readLockHolder(`${file}.lock`).catch(() => null);
      if (holder?.alive && holder.pid > 0) session.lockedBy = holder.pid;
      sessions.push(session);
    }
    return sessions;
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
   * Deletes a session's log and its lock. Refuses (`RecordsLockedError`) while a live writer
   * holds it, when another host's writer does, or when the lock file is not a lock. It takes the
   * lock itself first (a stale one is taken over), so no writer can start between the check
   * and the unlink. Side files (kept torn tails) are left for inspection. Returns false when
   * there was no such session.
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
    try {
      return await unlink(file).then(
        () => true,
        (error) => {
          if (errorCode(error) === 'ENOENT') return false;
          throw error;
        },
      );
    } finally {
      await lock.release();
    }
  }
}

async function countLines(file: string): Promise<number> {
  let lines = 0;
  let lastByte = 0x0a;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let at = chunk.indexOf(0x0a);
    while (at !== -1) {
      lines++;
      at = chunk.indexOf(0x0a, at + 1);
    }
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1] as number;
  }
  return lastByte === 0x0a ? lines : lines + 1;
}

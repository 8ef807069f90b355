import path from 'node:path';
import {
  DEFAULT_MAX_PENDING_BYTES,
  ErrorReporter,
  failureOf,
  OperationQueue,
  printToStderr,
  serializeRecord,
  WriterLoop,
} from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsBatch,
  RecordsClosedError,
  RecordsConflictError,
  type RecordsErrorHandler,
  RecordsLockedError,
  type RecordsPosition,
  RecordsWriteError,
  type SnapshotToWrite,
  type StoredSnapshot,
} from '@agent-records/types';
import { type BlobOptions, BlobStore } from './blobs/blob-store.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { WriterLock } from './lock.js';
import { PendingLines } from './pending-lines.js';
import type { FilePosition } from './position.js';
import { type QueuedEntry, splitBatch } from './queue-entries.js';
import { readFromPosition } from './read-from.js';
import { type ReadSource, readQueuedAndDurable } from './reader.js';
import { removeAbandonedRewrites } from './recovery.js';
import { isRefusedRecord, type RefusedRecordError, refusalIn } from './refused-records.js';
import { SnapshotFiles } from './snapshots.js';
import { SummaryKeeper } from './summary-keeper.js';
import { LogWriter } from './writer.js';

/** What the writer takes from the queue each turn (one object, not one per batch). */
const REWRITE_ALONE = { rewriteAlone: true } as const;

export interface FileSystemAgentRecordPersistenceOptions {
  /**
   * Receives write failures (once per episode, `kind: 'write-failed'`), their end
   * (`'write-recovered'`), a refused writer (`RecordsLockedError`) and warnings (a torn tail cut
   * off and kept aside, a missing blob, a stale lock taken over). It keeps hearing them when
   * `AgentRecords` subscribes its own `onError` (`setErrorHandler`), first; with neither, they
   * are printed to stderr.
   */
  onError?: RecordsErrorHandler;
  /** Take a lock file beside the log on the first write (default true). */
  lock?: boolean;
  /** Mode of files this backend creates (default 0o600: logs hold prompts and secrets). */
  fileMode?: number;
  /** Mode of directories it creates (default 0o700). */
  dirMode?: number;
  /**
   * Keep a summary file beside the log (`<log>.summary.json`: counts, times, title) that the
   * store's `list()` reads instead of the log (default true). Updated after each batch, off the
   * flush path; `setTitle` needs it.
   */
  summary?: boolean;
  /** Bound on queued, unwritten record bytes (default 64 MiB); `append` throws beyond it. */
  maxPendingBytes?: number;
  /** The file-system seam, for fault-injection tests; default the real `node:fs`. */
  fileOperations?: FileOperations;
  /**
   * Move large `data:<mime>;base64,` strings (inline images, files) out of the log into
   * content-addressed files in `dir`, replaced by `blobref:<mime>;<sha256>` in the line.
   */
  blobs?: BlobOptions;
}

/**
 * An agent-records log in a JSON Lines file: one record per line. Appends are group-committed
 * (one write and one fdatasync per batch, the descriptor kept open), `rewrite` is atomic (temp
 * file, fsync, rename, directory fsync), a torn last line from a crash is cut off and kept in a
 * side file, a failed write is truncated away and retried, and a lock file keeps a second writer
 * from interleaving. This class wires the parts: the queue (the kit's `OperationQueue`), the
 * file as the writer holds it (`writer.ts`, `atomic-replace.ts`, `recovery.ts`) and reads (`reader.ts`).
 */
export class FileSystemAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecord>
  implements AgentRecordPersistence<R>
{
  /** The log's path. */
  readonly file: string;
  /** The lock file's path. */
  readonly lockFile: string;

  readonly #ops: FileOperations;
  /** Where every report of this log goes: the host's `onError`, the core's, else stderr. */
  readonly #errors: ErrorReporter;
  readonly #maxPendingBytes: number;
  readonly #lock: WriterLock | null;
  readonly #blobs: BlobStore | null;
  /** Lines (and marks) to append and rewrites; a rewrite supersedes what is before it once it lands. */
  readonly #queue = new OperationQueue<R, QueuedEntry>();
  /** The queued lines' bytes, which the queue's entries point into. */
  readonly #pending = new PendingLines();
  readonly #loop: WriterLoop;
  readonly #writer: LogWriter;
  /** The summary file beside the log, or null with `summary: false`. */
  readonly #summary: SummaryKeeper | null;
  readonly #snapshots: SnapshotFiles;
  #closed = false;

  constructor(file: string, options: FileSystemAgentRecordPersistenceOptions = {}) {
    this.file = path.resolve(file);
    this.lockFile = `${this.file}.lock`;
    this.#ops = options.fileOperations ?? nodeFileOperations;
    this.#errors = new ErrorReporter({ onError: options.onError, fallback: printToStderr });
    this.#loop = new WriterLoop(this.#errors, () => this.#run());
    const fileMode = options.fileMode ?? 0o600;
    const dirMode = options.dirMode ?? 0o700;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#blobs = options.blobs
      ? new BlobStore(options.blobs, this.#ops, { file: fileMode, dir: dirMode }, this.#errors)
      : null;
    this.#lock =
      options.lock === false
        ? null
        : new WriterLock(this.#ops, this.lockFile, this.file, fileMode, this.#errors);
    this.#snapshots = new SnapshotFiles(this.file, this.#ops, fileMode, this.#errors);
    this.#summary =
      options.summary === false ? null : new SummaryKeeper(this.file, this.#ops, fileMode);
    this.#writer = new LogWriter(this.file, this.#ops, {
      fileMode,
      dirMode,
      prepare: () => this.#takeLock(),
      errors: this.#errors,
    });
  }

  append(record: R): void {
    if (this.#closed)
      throw new RecordsClosedError(`${this.file} is closed; open it again to write.`);
    const line = serializeRecord(record, this.#blobs?.replacer);
    // The bound counts UTF-8 bytes, measured before the line is copied; records it drops are one
    // report for the next flush(). Then encoded at once (see PendingLines).
    const bytes = Buffer.byteLength(line, 'utf8');
    this.#loop.admit(bytes, this.#maxPendingBytes, this.#blobs?.pendingBytes ?? 0);
    if (this.#loop.refusal) return; // refused for good; flush() and close() say so
    const start = this.#pending.add(line, bytes);
    this.#queue.append(start);
    this.#loop.enqueue(1, bytes);
    this.#loop.schedule();
  }

  /**
   * Replaces the whole log, atomically once flushed. The records are serialised by the writer in
   * chunks, so a million-record rewrite does not stall the event loop: do not mutate them until
   * `flush()` resolves. A record that cannot be serialised refuses the whole rewrite: it is
   * reported once (`record-refused`), the next `flush()` rejects with `RecordsWriteError` (its
   * cause the refusal), and the log is what it would be had the rewrite never been called.
   */
  rewrite(records: readonly R[]): void {
    if (this.#closed)
      throw new RecordsClosedError(`${this.file} is closed; open it again to write.`);
    if (this.#loop.refusal) return;
    // What was queued before stays queued until this rewrite lands: a refused rewrite must not
    // take the appends before it with it.
    this.#queue.rewrite(records.slice());
    // Snapshots asked for before it cover the log it replaces (kept if it is refused: dropped).
    this.#snapshots.pending.invalidate('the log is rewritten');
    this.#loop.enqueue();
    this.#loop.schedule();
  }

  /**
   * Stores a snapshot covering every record appended or rewritten before this call, in
   * `<log>.snapshot`, once those records are durable (appends behind it are not held up while
   * its data is made), atomically. Never throws; a snapshot that cannot be written is dropped
   * and reported as a `warning` (see `AgentRecordPersistence.writeSnapshot`).
   */
  writeSnapshot(snapshot: SnapshotToWrite): void {
    if (this.#closed || this.#loop.refusal) return;
    this.#snapshots.pending.request(snapshot, this.#queue.mark());
    this.#loop.wake(); // the writer reports its position, even with nothing queued
  }

  /**
   * The newest stored snapshot, or null (none, or unreadable: a torn or damaged file is
   * reported as a `warning`). Not checked against the log: `readFrom(position)` does that.
   */
  readSnapshot(): Promise<StoredSnapshot | null> {
    return this.#snapshots.read();
  }

  /**
   * Sets the session's title, kept in the summary file beside the log (not in the log) and shown
   * by the store's `list()`. Queued like an append: durable once the next `flush()` resolves.
   */
  setTitle(title: string): void {
    if (this.#closed)
      throw new RecordsClosedError(`${this.file} is closed; open it again to write.`);
    if (typeof title !== 'string') throw new TypeError('setTitle takes a string.');
    if (!this.#summary) {
      // A capability the host may call without knowing the option: said, never thrown.
      this.#errors.report(
        new Error(`${this.file} keeps no summary file (summary: false): its title is not stored.`),
        { kind: 'warning' },
      );
      return;
    }
    if (this.#loop.refusal) return;
    this.#queue.append({ mark: 'title', title });
    this.#loop.enqueue(1, 0);
    this.#loop.schedule();
  }

  /**
   * The error-handler capability (see `AgentRecordPersistence.setErrorHandler`): `AgentRecords`
   * subscribes its `onError` here; it replaces the stderr printer for every later report, and
   * the host's own `onError` option, if given, keeps hearing each report first.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#errors.setErrorHandler(handler);
  }

  flush(): Promise<void> {
    // A flush during a failure episode is the retry; a refused rewrite rejects one flush. With no
    // snapshot asked for, the loop's own promise (`settled()` of none: a Promise.all, two hops).
    const pending = this.#snapshots.pending;
    if (pending.pending === 0) return this.#loop.waitForAll();
    const snapshots = pending.settled(); // those asked for before this flush
    return this.#loop.waitForAll().then(() => snapshots);
  }

  /**
   * Flushes one last time, then releases the descriptor and the lock whatever that flush did,
   * and rejects with its reason. Records a failed close could not write stay queued: another
   * `close()` (or `flush()`) retries them, taking the lock again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const failure = await failureOf(this.flush());
    while (this.#loop.running) await this.#loop.running;
    // The lock goes only with the descriptor (see LogWriter.close). Never held after a lock
    // refusal: another writer's lock is not ours to remove.
    await this.#summary?.close(); // its last write, while the lock is still held
    if (await this.#writer.close()) await this.#lock?.release();
    if (failure) throw failure.error;
  }

  async *read(): AsyncIterable<R> {
    for await (const batch of this.readBatches()) {
      for (const record of batch) yield record;
    }
  }

  /**
   * The same records as `read()`, in arrays: one await per chunk of the file rather than per
   * record. A capability beyond the contract, used by `AgentRecords.replay()` when present.
   */
  readBatches(): AsyncIterable<readonly R[]> {
    return readQueuedAndDurable<R>(this.#readSource);
  }

  /**
   * The records after `position` (from the start when `null`), in batches, each with the
   * position after its last record; records queued and not yet written come last, with `end:
   * null`. A position is `{ offset, fingerprint, log }`: the byte offset after the records it
   * covers, a hash of the line before it and the log file's identity (inode and first line). It
   * is checked when the iteration starts: a log truncated, rewritten, repaired or replaced since
   * makes the first `next()` reject with `RecordsPositionError` (read from `null` instead).
   */
  readFrom(position: RecordsPosition | null): AsyncIterable<RecordsBatch<R>> {
    return readFromPosition<R>(this.#readSource, position);
  }

  get #readSource(): ReadSource<R> {
    return {
      file: this.file,
      ops: this.#ops,
      blobs: this.#blobs,
      writer: this.#writer,
      queued: () =>
        this.#queue
          .unwritten()
          .map((batch) => ({ rewrite: batch.rewrite, appends: this.#bytesOf(batch.appends) })),
      serialize: (record) => serializeRecord(record, this.#blobs?.replacer),
      refusalIn,
      read: this.#read,
    };
  }

  /**
   * A read of the file before this instance writes it (a replay): its first write must find
   * that log (see `LogWriter.expect`). As pg adopts the head a read saw: only while nothing of
   * this instance is queued or being written, so the read is all the state it writes after.
   */
  readonly #read = (log: FilePosition): void => {
    if (this.#writer.isOpen || this.#writer.opening || !this.#queue.empty || this.#queue.inflight)
      return;
    this.#writer.expect(log);
  };

  /** Before the writer first opens the log: the lock, then what a crashed rewrite left. */
  async #takeLock(): Promise<void> {
    if (!this.#lock || this.#lock.held) return;
    await this.#lock.acquire(); // a stale lock taken over is reported as a warning
    await removeAbandonedRewrites(this.#ops, this.file);
  }

  async #run(): Promise<void> {
    while (this.#loop.writable) {
      try {
        // Open first, then choose the work: a rewrite queued while the file opens supersedes
        // whatever was at the head before.
        const pending = this.#snapshots.pending;
        if (
          !this.#writer.isOpen &&
          (!this.#queue.empty || pending.needsPosition(this.#queue.reachedMark))
        ) {
          await this.#writer.open();
          this.#summary?.opened(this.#writer.durableEnd ?? 0);
        }
        // Before anything more is written: the snapshots whose records are all durable end here.
        if (pending.pending > 0 && this.#writer.isOpen) {
          pending.reached(this.#queue.reachedMark, this.#writerPosition);
        }
        // The newest rewrite alone first (appends after it are the next batch), else the appends.
        const batch = this.#queue.take(REWRITE_ALONE);
        if (batch === null) return;
        // A batch's operations end in the same turn as the next take: a flush begun after them
        // is answered by the next batch, its own attempt (see `WriterLoop.fail`).
        if (batch.rewrite) {
          if (await this.#rewrite(batch.rewrite)) {
            this.#loop.complete(this.#queue.written());
            this.#releaseLines(0); // the superseded lines, once nothing else waits
          } else this.#loop.discard(this.#queue.requeue({ dropRewrite: true }));
        } else {
          // A title first (durably, in the summary file: if that fails, the whole batch is
          // retried, so no line is written twice), then the lines; inline: one hop fewer.
          const { first, last, lines, title } = splitBatch(batch.appends);
          if (title !== undefined) await this.#summary?.writeTitle(title);
          if (lines > 0) {
            await this.#writer.append(this.#pending.views(first, last), this.#flushBlobs);
          }
          const done = this.#queue.written(); // the summary update is not waited for
          if (lines > 0) this.#summary?.appended(lines, this.#writer.durableEnd ?? 0);
          this.#releaseLines(last);
          this.#loop.complete(done);
        }
      } catch (error) {
        if (error instanceof RecordsLockedError || error instanceof RecordsConflictError) {
          this.#queue.clear(); // refused for good: nothing of this writer is written
          this.#pending.clear();
          this.#snapshots.pending.invalidate(
            error instanceof RecordsLockedError
              ? 'another writer holds the log'
              : 'the log is not the one this instance read',
          );
          // A conflict is found under the lock: released at once, the log is someone else's.
          if (error instanceof RecordsConflictError) await this.#lock?.release();
          this.#loop.refuse(error);
          return;
        }
        if (this.#loop.outstanding === 0 && !this.#queue.inflight) {
          // The log was opened only to place a snapshot: no record waits, so no episode (a
          // snapshot is never one); the snapshots are dropped as warnings.
          this.#snapshots.pending.invalidate(
            `${this.file} could not be opened (${(error as Error).message})`,
          );
          return;
        }
        // Fail the waiting flushes first, then put the batch back where it was.
        this.#loop.fail(
          error,
          (cause) =>
            `Writing ${this.file} failed (${cause.message}); ${this.#queue.operations} records ` +
            'stay queued in order and are retried on the next flush().',
        );
        if (this.#queue.inflight) this.#loop.discard(this.#queue.requeue());
        return;
      }
    }
  }

  /**
   * Writes the newest queued rewrite (in flight); only once it lands is everything queued before
   * it dropped. A refused rewrite is dropped alone: the appends around it are written as if it
   * had never been called. Returns whether it landed (the caller ends its operations).
   */
  async #rewrite(records: readonly R[]): Promise<boolean> {
    try {
      await this.#writer.replace(
        records,
        (record) => serializeRecord(record, this.#blobs?.replacer),
        async () => {
          await this.#blobs?.flushPending();
          // Before the new log is renamed in: no crash can leave a snapshot beside a log it
          // does not describe.
          await this.#snapshots.removeBeforeReplace();
        },
      );
    } catch (error) {
      if (!isRefusedRecord(error)) throw error;
      this.#reportRefusedRewrite(error);
      // Snapshots asked for after it stood for a log that will not be: their place is lost.
      this.#snapshots.pending.invalidate('the rewrite before it was refused');
      return false;
    }
    // Superseded unwritten, but a rewrite the writer would have refused is still reported.
    for (const earlier of this.#queue.unwritten()) {
      if (earlier.rewrite === records) break;
      const refusal = earlier.rewrite && (await refusalIn(earlier.rewrite));
      if (refusal) this.#reportRefusedRewrite(refusal);
    }
    this.#summary?.rewritten(records.length, this.#writer.durableEnd ?? 0);
    return true;
  }

  /**
   * Lets go of the queued bytes that are done with: every block before the line at `done`
   * (written), or all of them once nothing is queued (a written rewrite superseded the rest).
   */
  #releaseLines(done: number): void {
    this.#pending.releaseBefore(this.#queue.empty ? this.#pending.end : done);
  }

  /** The bytes of a queued batch's lines (for a reader: views stay valid once written). */
  #bytesOf(entries: readonly QueuedEntry[]): Buffer[] {
    const { first, last, lines } = splitBatch(entries);
    return lines === 0 ? [] : this.#pending.views(first, last);
  }

  // Made once, not per batch. Blobs the lines point at are durable before them (none: undefined).
  readonly #writerPosition = () => this.#writer.position();
  readonly #flushBlobs = () => (this.#blobs === null ? undefined : this.#blobs.flushPending());

  #reportRefusedRewrite(error: RefusedRecordError): void {
    this.#errors.report(error, { kind: 'record-refused', recordType: error.recordType });
    this.#loop.latchRefusal(
      new RecordsWriteError(
        `The rewrite of ${this.file} was refused and the old log kept, with the records appended ` +
          `around the rewrite call: ${error.message}`,
        { cause: error },
      ),
    );
  }
}

import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { serializeRecord, WriterLoop as WriteProgress } from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorHandler,
  type RecordsErrorInfo,
  RecordsInvalidError,
  RecordsLockedError,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';
import { type BlobOptions, BlobStore } from './blobs/blob-store.js';
import { errorCode, type FileOperations, nodeFileOperations } from './file-operations.js';
import { MAX_LINE_BYTES, readRecordBatchesFrom } from './line-reader.js';
import { WriterLock } from './lock.js';
import { inspectTail, writeFully } from './tail.js';

export interface FileSystemAgentRecordPersistenceOptions {
  /**
   * Receives write failures (once per episode, `kind: 'write-failed'`), their end
   * (`'write-recovered'`), a refused writer (`RecordsLockedError`) and warnings (a torn tail cut
   * off and kept aside). Default: print to stderr.
   */
  onError?: RecordsErrorHandler;
  /** Take a lock file beside the log on the first write (default true). */
  lock?: boolean;
  /** Mode of files this backend creates (default 0o600: logs hold prompts and secrets). */
  fileMode?: number;
  /** Mode of directories it creates (default 0o700). */
  dirMode?: number;
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

const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Characters of restored blobs after which a read yields the records it has so far. */
const RESTORED_CHARS_PER_BATCH = 4 * 1024 * 1024;
/** Bytes converted and written per write call, so no single step stalls the event loop. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Queued work: an optional whole-log replacement, then the lines appended after it. `settled`
 * counts refused rewrites that stood among these lines: nothing to write, but they complete
 * with the lines (so flush waiters and the byte bound see operations in the order queued).
 */
interface Segment<R> {
  rewrite: readonly R[] | null;
  lines: string[];
  settled: number;
}

const emptySegment = <R>(rewrite: readonly R[] | null = null): Segment<R> => ({
  rewrite,
  lines: [],
  settled: 0,
});

/** The writer's state at one instant, as a reader sees it. */
interface Snapshot<R> {
  generation: number;
  /** Writer opens started so far: the first may cut a torn tail and append in its place. */
  writerOpens: number;
  /** Durable bytes of the file, when this instance writes it; else read to the end. */
  durableEnd: number | undefined;
  /** A queued or in-flight rewrite: the whole log, instead of the file. */
  base: readonly R[] | null;
  pending: string[][];
}

function isRefusedRecord(error: unknown): error is RecordsSerializeError | RecordsInvalidError {
  return error instanceof RecordsSerializeError || error instanceof RecordsInvalidError;
}

/** The refusal a rewrite would meet, checked in chunks so a long one does not stall the loop. */
async function refusalIn(
  records: readonly unknown[],
): Promise<RecordsSerializeError | RecordsInvalidError | null> {
  for (let i = 0; i < records.length; i++) {
    if (i > 0 && i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    try {
      serializeRecord(records[i]);
    } catch (error) {
      if (isRefusedRecord(error)) return error;
      throw error;
    }
  }
  return null;
}

const defaultOnError: RecordsErrorHandler = (error, info) => {
  console.error(`[agent-records] ${info.kind}: ${error.message}`);
};

/**
 * An agent-records log in a JSON Lines file: one record per line. Appends are group-committed
 * (one write and one fdatasync per batch, the descriptor kept open), `rewrite` is atomic (temp
 * file, fsync, rename, directory fsync), a torn last line from a crash is cut off and kept in a
 * side file, a failed write is truncated away and retried, and a lock file keeps a second writer
 * from interleaving.
 */
export class FileSystemAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecord>
  implements AgentRecordPersistence<R>
{
  /** The log's path. */
  readonly file: string;
  /** The lock file's path. */
  readonly lockFile: string;

  readonly #ops: FileOperations;
  readonly #onError: RecordsErrorHandler;
  readonly #fileMode: number;
  readonly #dirMode: number;
  readonly #maxPendingBytes: number;
  readonly #lock: WriterLock | null;
  readonly #blobs: BlobStore | null;

  #queue: Segment<R>[] = [emptySegment()];
  /** A batch of lines being written, taken from the head segment (with its `settled`). */
  #inflightLines: string[] | null = null;
  #inflightSettled = 0;
  /** A refused rewrite the next flush() still has to report (once, as the memory backend). */
  #refusedRewrite: RecordsWriteError | null = null;
  readonly #progress: WriteProgress;

  #fd: number | null = null;
  #durableSize = 0;
  #needsNewline = false;
  /** A failed write may have left bytes past #durableSize: cut them before writing again. */
  #dirty = false;
  /** Bumped by each completed rewrite, so a reader can tell the file it opened is current. */
  #generation = 0;
  /** Bumped when the writer starts opening the file, which a reader's snapshot must not straddle. */
  #writerOpens = 0;
  #writerOpening: Promise<void> | null = null;

  #closed = false;

  constructor(file: string, options: FileSystemAgentRecordPersistenceOptions = {}) {
    this.file = path.resolve(file);
    this.lockFile = `${this.file}.lock`;
    this.#ops = options.fileOperations ?? nodeFileOperations;
    this.#onError = options.onError ?? defaultOnError;
    this.#progress = new WriteProgress(this.#onError, () => this.#run());
    this.#fileMode = options.fileMode ?? 0o600;
    this.#dirMode = options.dirMode ?? 0o700;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#blobs = options.blobs
      ? new BlobStore(
          options.blobs,
          this.#ops,
          { file: this.#fileMode, dir: this.#dirMode },
          this.#onError,
        )
      : null;
    this.#lock =
      options.lock === false
        ? null
        : new WriterLock(this.#ops, this.lockFile, this.file, this.#fileMode);
  }

  append(record: R): void {
    if (this.#closed)
      throw new RecordsClosedError(`${this.file} is closed; open it again to write.`);
    const line = serializeRecord(record, this.#blobs?.replacer);
    // The bound counts UTF-8 bytes; records it drops are one report for the next flush().
    const bytes = Buffer.byteLength(line, 'utf8');
    this.#progress.admit(bytes, this.#maxPendingBytes, this.#blobs?.pendingBytes ?? 0);
    if (this.#progress.refusal) return; // refused for good; flush() and close() say so
    (this.#queue[this.#queue.length - 1] as Segment<R>).lines.push(line);
    this.#progress.enqueue(1, bytes);
    this.#progress.schedule();
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
    if (this.#progress.refusal) return;
    // What was queued before stays queued until this rewrite lands: a refused rewrite must not
    // take the appends before it with it.
    this.#queue.push(emptySegment(records.slice()));
    this.#progress.enqueue();
    this.#progress.schedule();
  }

  /**
   * The error-handler capability (see `AgentRecordPersistence.setErrorHandler`): `AgentRecords`
   * subscribes its `onError` here; it replaces the default printer for every later report.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#progress.setErrorHandler(handler);
  }

  async flush(): Promise<void> {
    // A flush during a failure episode is the retry.
    await this.#progress.waitForAll();
    const refused = this.#refusedRewrite;
    if (refused) {
      this.#refusedRewrite = null;
      throw refused;
    }
  }

  /**
   * Flushes one last time, then releases the descriptor and the lock whatever that flush did,
   * and rejects with its reason. Records a failed close could not write stay queued: another
   * `close()` (or `flush()`) retries them, taking the lock again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    let failure: unknown = null;
    try {
      await this.flush();
    } catch (error) {
      failure = error;
    }
    while (this.#progress.running) await this.#progress.running;
    await this.#release();
    if (failure !== null) throw failure;
  }

  async #release(): Promise<void> {
    const fd = this.#fd;
    if (fd === null) {
      // Never held after a lock refusal: another writer's lock is not ours to remove.
      await this.#lock?.release();
      return;
    }
    if (this.#dirty) {
      // A failed batch may have left bytes past the durable end. Cut them while the lock is
      // still ours: once released, a retry cannot tell them from another writer's records, and
      // would write them twice. (No sync needed: every process sees the cut at once, and after
      // a crash those records' flush never resolved anyway.) If even the cut fails, keep both
      // so the retry can cut them.
      try {
        await this.#ops.ftruncate(fd, this.#durableSize);
        this.#dirty = false;
      } catch {
        return;
      }
    }
    this.#fd = null;
    await this.#ops.close(fd).catch(() => {});
    await this.#lock?.release();
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
  async *readBatches(): AsyncIterable<readonly R[]> {
    const { fd, snapshot } = await this.#openSnapshot();
    try {
      yield* this.#batchesFrom(fd, snapshot);
    } finally {
      if (fd !== null) await this.#ops.close(fd).catch(() => {});
    }
  }

  /**
   * Takes the writer's state at one instant and opens the file to match it: the file up to an
   * end that the writer will not change, then whatever is in flight or queued, from memory. Starts
   * over when, while the file was being opened, a rewrite landed or the writer first opened the
   * file (it may have written the queued records by then: they would be read twice).
   */
  async #openSnapshot(): Promise<{ fd: number | null; snapshot: Snapshot<R> }> {
    for (;;) {
      while (this.#writerOpening) await this.#writerOpening.catch(() => {});
      const snapshot = this.#snapshot();
      if (snapshot.base) return { fd: null, snapshot };
      let fd: number | null = null;
      try {
        fd = await this.#ops.open(this.file, 'r');
        // Not written by this instance yet: stop before a torn last line, the only bytes the
        // writer's first open may change (it cuts them and appends in their place).
        if (snapshot.durableEnd === undefined) snapshot.durableEnd = await this.#stableEnd(fd);
      } catch (error) {
        if (fd !== null) await this.#ops.close(fd).catch(() => {});
        if (errorCode(error) !== 'ENOENT') throw error;
        fd = null;
      }
      if (snapshot.generation === this.#generation && snapshot.writerOpens === this.#writerOpens) {
        return { fd, snapshot };
      }
      if (fd !== null) await this.#ops.close(fd).catch(() => {});
    }
  }

  /** The end of the file's last complete line (or of a last line that is complete JSON). */
  async #stableEnd(fd: number): Promise<number | undefined> {
    try {
      const tail = await inspectTail(this.#ops, fd, MAX_LINE_BYTES);
      // An over-long last line is read to its end, where the line reader reports it.
      return tail.tooLong || tail.tailIsComplete ? tail.size : tail.lastLineStart;
    } catch (error) {
      if (errorCode(error) !== undefined) throw error;
      return undefined; // the file shrank meanwhile (another process cut its torn tail): read it all
    }
  }

  /** Opens the file for writing, announced to readers (see `#openSnapshot`). */
  #openWriter(): Promise<void> {
    this.#writerOpens++;
    const opening = this.#openForWrite().finally(() => {
      this.#writerOpening = null;
    });
    this.#writerOpening = opening;
    return opening;
  }

  async *#batchesFrom(fd: number | null, snapshot: Snapshot<R>): AsyncGenerator<R[]> {
    const blobs = this.#blobs;
    if (!blobs) {
      yield* this.#rawBatchesFrom(fd, snapshot);
      return;
    }
    // Yield before a batch holds more than a few images: a log of references is small, and
    // restoring a whole chunk of it at once would hold every image in memory together.
    for await (const batch of this.#rawBatchesFrom(fd, snapshot)) {
      let start = 0;
      let restored = 0;
      for (let i = 0; i < batch.length; i++) {
        restored += await blobs.restore(batch[i] as R);
        if (restored >= RESTORED_CHARS_PER_BATCH) {
          yield batch.slice(start, i + 1);
          start = i + 1;
          restored = 0;
        }
      }
      if (start < batch.length) yield start === 0 ? batch : batch.slice(start);
    }
  }

  async *#rawBatchesFrom(fd: number | null, snapshot: Snapshot<R>): AsyncGenerator<R[]> {
    if (fd !== null) {
      yield* readRecordBatchesFrom(this.#ops, fd, this.file, {
        end: snapshot.durableEnd,
      }) as AsyncGenerator<R[]>;
    } else if (snapshot.base) {
      for (let i = 0; i < snapshot.base.length; i += 1000) {
        const slice = snapshot.base.slice(i, i + 1000);
        yield slice.map((r) => JSON.parse(serializeRecord(r, this.#blobs?.replacer)) as R);
      }
    }
    for (const lines of snapshot.pending) yield lines.map((line) => JSON.parse(line) as R);
  }

  #snapshot(): Snapshot<R> {
    let base: readonly R[] | null = null;
    let pending: string[][] = this.#inflightLines ? [this.#inflightLines.slice()] : [];
    for (const segment of this.#queue) {
      if (segment.rewrite) {
        base = segment.rewrite;
        pending = [];
      }
      if (segment.lines.length > 0) pending.push(segment.lines.slice());
    }
    return {
      generation: this.#generation,
      writerOpens: this.#writerOpens,
      durableEnd: this.#fd === null ? undefined : this.#durableSize,
      base,
      pending,
    };
  }

  #queuedOps(): number {
    let ops = this.#inflightLines?.length ?? 0;
    for (const segment of this.#queue) ops += (segment.rewrite ? 1 : 0) + segment.lines.length;
    return ops;
  }

  async #run(): Promise<void> {
    while (this.#progress.writable) {
      const head = this.#queue[0] as Segment<R>;
      if (this.#queue.length === 1 && !head.rewrite && head.lines.length === 0) {
        // Only refused rewrites left: they are done.
        if (head.settled > 0) this.#progress.discard(head.settled);
        head.settled = 0;
        break;
      }
      try {
        // Open first, then choose the work: a rewrite queued while the file opens supersedes
        // whatever was at the head before.
        if (this.#fd === null) await this.#openWriter();
        const last = this.#lastRewrite();
        if (last >= 0) await this.#rewriteAt(last);
        else await this.#appendHead();
      } catch (error) {
        if (error instanceof RecordsLockedError) {
          this.#refuse(error); // refused for good: nothing of this writer is written
          return;
        }
        this.#requeueInflight();
        this.#fail(error);
        return;
      }
    }
  }

  #lastRewrite(): number {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      if ((this.#queue[i] as Segment<R>).rewrite) return i;
    }
    return -1;
  }

  /**
   * Writes the newest queued rewrite; only once it lands is everything queued before it
   * dropped. A refused rewrite is dropped alone: the appends around it are written as if it
   * had never been called.
   */
  async #rewriteAt(index: number): Promise<void> {
    const segment = this.#queue[index] as Segment<R>;
    try {
      await this.#replaceLog(segment.rewrite as readonly R[]);
    } catch (error) {
      if (!isRefusedRecord(error)) throw error;
      this.#refuseRewrite(index, error);
      return;
    }
    let superseded = 0;
    for (const earlier of this.#queue.slice(0, index)) {
      superseded += (earlier.rewrite ? 1 : 0) + earlier.lines.length + earlier.settled;
      // Superseded unwritten, but a rewrite the writer would have refused is still reported.
      const refusal = earlier.rewrite && (await refusalIn(earlier.rewrite));
      if (refusal) this.#reportRefusedRewrite(refusal);
    }
    this.#queue = this.#queue.slice(index);
    segment.rewrite = null;
    this.#progress.discard(superseded);
    this.#progress.complete(1);
  }

  /** Appends the head segment's lines as one batch. */
  async #appendHead(): Promise<void> {
    const head = this.#queue[0] as Segment<R>;
    if (head.lines.length === 0) {
      // Emptied head with work behind it: its refused rewrites are done, move on.
      if (head.settled > 0) this.#progress.discard(head.settled);
      this.#queue.shift();
      return;
    }
    this.#inflightLines = head.lines;
    this.#inflightSettled = head.settled;
    head.lines = [];
    head.settled = 0;
    await this.#appendLines(this.#inflightLines);
    const written = this.#inflightLines.length + this.#inflightSettled;
    this.#inflightLines = null;
    this.#inflightSettled = 0;
    this.#progress.complete(written);
  }

  /** Writes one batch at the durable end with one fdatasync. */
  async #appendLines(lines: string[]): Promise<void> {
    const fd = this.#fd as number;
    if (this.#dirty) {
      await this.#ops.ftruncate(fd, this.#durableSize);
      this.#dirty = false;
    }
    // A line may point at a blob only once the blob is durable.
    await this.#blobs?.flushPending();
    let position = this.#durableSize;
    let prefix = this.#needsNewline ? '\n' : '';
    this.#dirty = true;
    for (let i = 0; i < lines.length; ) {
      let text = prefix;
      prefix = '';
      while (i < lines.length && text.length < WRITE_CHUNK_BYTES) {
        text += `${lines[i++] as string}\n`;
      }
      const buffer = Buffer.from(text, 'utf8');
      await writeFully(this.#ops, fd, buffer, position);
      position += buffer.length;
    }
    await this.#ops.fdatasync(fd);
    this.#dirty = false;
    this.#durableSize = position;
    this.#needsNewline = false;
  }

  /**
   * Writes the new log beside the old one, syncs it, renames it over, syncs the directory. A log
   * that is a symlink keeps being one: the file it points to (resolved now, it may have been
   * re-pointed) is what gets replaced, from a temp file in that file's directory.
   */
  async #replaceLog(records: readonly R[]): Promise<void> {
    const target = await this.#realLogPath();
    const dir = path.dirname(target);
    const temp = path.join(dir, `.${path.basename(target)}.${randomUUID()}.rewrite.tmp`);
    const fd = await this.#ops.open(temp, 'wx', this.#fileMode);
    let renamed = false;
    try {
      let position = 0;
      for (let i = 0; i < records.length; ) {
        let text = '';
        while (i < records.length && text.length < WRITE_CHUNK_BYTES) {
          text += `${serializeRecord(records[i++], this.#blobs?.replacer)}\n`;
        }
        const buffer = Buffer.from(text, 'utf8');
        await writeFully(this.#ops, fd, buffer, position);
        position += buffer.length;
      }
      await this.#ops.fdatasync(fd);
      await this.#ops.close(fd);
      await this.#blobs?.flushPending();
      await this.#ops.rename(temp, target);
      renamed = true;
      await this.#syncDirectory(dir);
      const previous = this.#fd;
      this.#fd = await this.#ops.open(this.file, 'r+');
      this.#generation++;
      if (previous !== null) await this.#ops.close(previous).catch(() => {});
      this.#durableSize = position;
      this.#needsNewline = false;
      this.#dirty = false;
    } catch (error) {
      if (!renamed) {
        await this.#ops.close(fd).catch(() => {});
        await this.#ops.unlink(temp).catch(() => {});
      }
      throw error;
    }
  }

  /** The file the log path names, symlinks resolved; the path itself while it does not exist. */
  async #realLogPath(): Promise<string> {
    try {
      return await this.#ops.realpath(this.file);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return this.file;
      throw error;
    }
  }

  async #openForWrite(): Promise<void> {
    const dir = path.dirname(this.file);
    await this.#ops.mkdir(dir, this.#dirMode);
    if (this.#lock && !this.#lock.held) {
      const { tookOverFrom } = await this.#lock.acquire();
      if (tookOverFrom) {
        this.#report(
          new RecordsLockedError(
            `Took over a stale lock on ${this.file} from process ${tookOverFrom.pid}, which is ` +
              'no longer running.',
          ),
          { kind: 'warning' },
        );
      }
      await this.#removeAbandonedRewrites(this.file);
      const target = await this.#realLogPath();
      if (target !== this.file) await this.#removeAbandonedRewrites(target);
    }
    let fd: number;
    try {
      fd = await this.#ops.open(this.file, 'wx', this.#fileMode);
      await this.#syncDirectory(dir);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      fd = await this.#ops.open(this.file, 'r+');
    }
    try {
      const tail = await inspectTail(this.#ops, fd);
      this.#durableSize = tail.size;
      this.#needsNewline = false;
      if (tail.tail.length > 0 && tail.tailIsComplete) {
        this.#needsNewline = true;
      } else if (tail.tail.length > 0) {
        await this.#keepTornTail(dir, tail.tail);
        await this.#ops.ftruncate(fd, tail.lastLineStart);
        await this.#ops.fdatasync(fd);
        this.#durableSize = tail.lastLineStart;
        this.#report(
          new RecordsWriteError(
            `${this.file} ended with a torn line of ${tail.tail.length} bytes at offset ` +
              `${tail.lastLineStart} (an interrupted write); it was cut off and kept in a side file.`,
          ),
          { kind: 'warning' },
        );
      }
    } catch (error) {
      await this.#ops.close(fd).catch(() => {});
      throw error;
    }
    this.#fd = fd;
  }

  /** Keeps the bytes of a torn last line in `<log>.torn-<time>-<id>`, never just discarding them. */
  async #keepTornTail(dir: string, bytes: Buffer): Promise<void> {
    const side = `${this.file}.torn-${Date.now()}-${randomUUID().slice(0, 8)}`;
    const fd = await this.#ops.open(side, 'wx', this.#fileMode);
    try {
      await writeFully(this.#ops, fd, bytes, 0);
      await this.#ops.fsync(fd);
    } finally {
      await this.#ops.close(fd);
    }
    await this.#syncDirectory(dir);
  }

  /** Temp files of a rewrite that a crash interrupted; only the lock holder may remove them. */
  async #removeAbandonedRewrites(log: string): Promise<void> {
    const dir = path.dirname(log);
    const prefix = `.${path.basename(log)}.`;
    const names = await this.#ops.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith(prefix) && name.endsWith('.rewrite.tmp')) {
        await this.#ops.unlink(path.join(dir, name)).catch(() => {});
      }
    }
  }

  async #syncDirectory(dir: string): Promise<void> {
    const fd = await this.#ops.open(dir, 'r');
    try {
      await this.#ops.fsync(fd);
    } finally {
      await this.#ops.close(fd);
    }
  }

  /** A failed batch goes back in front of the head's lines, to be retried first. */
  #requeueInflight(): void {
    if (!this.#inflightLines) return;
    const head = this.#queue[0] as Segment<R>;
    head.lines = this.#inflightLines.concat(head.lines);
    head.settled += this.#inflightSettled;
    this.#inflightLines = null;
    this.#inflightSettled = 0;
  }

  #fail(error: unknown): void {
    this.#progress.fail(
      error,
      (cause) =>
        `Writing ${this.file} failed (${cause.message}); ${this.#queuedOps()} records stay queued ` +
        'in order and are retried on the next flush().',
    );
  }

  /**
   * A rewrite holding a record that cannot be serialised: reported once, the next flush()
   * rejects with it, and the lines queued after it join those before it (its place among them
   * completes with them).
   */
  #refuseRewrite(index: number, error: RecordsSerializeError | RecordsInvalidError): void {
    this.#reportRefusedRewrite(error);
    const segment = this.#queue[index] as Segment<R>;
    segment.rewrite = null;
    if (index === 0) {
      // Nothing queued before it: its place is the oldest, done now.
      this.#progress.discard(1);
      return;
    }
    const previous = this.#queue[index - 1] as Segment<R>;
    previous.lines = previous.lines.concat(segment.lines);
    previous.settled += 1 + segment.settled;
    this.#queue.splice(index, 1);
  }

  #reportRefusedRewrite(error: RecordsSerializeError | RecordsInvalidError): void {
    this.#progress.report(error, { kind: 'record-refused', recordType: error.recordType });
    this.#refusedRewrite = new RecordsWriteError(
      `The rewrite of ${this.file} was refused and the old log kept, with the records appended ` +
        `around the rewrite call: ${error.message}`,
      { cause: error },
    );
  }

  #refuse(error: RecordsLockedError): void {
    this.#queue = [emptySegment()];
    this.#inflightLines = null;
    this.#inflightSettled = 0;
    this.#progress.refuse(error);
  }

  #report(error: Error, info: RecordsErrorInfo): void {
    this.#progress.report(error, info);
  }
}

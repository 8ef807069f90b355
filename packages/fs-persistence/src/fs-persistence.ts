import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { serializeRecord, WriterLoop as WriteProgress } from '@agent-records/backend-kit';
import {
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

/** Queued work: an optional whole-log replacement, then the lines appended after it. */
interface Segment<R> {
  rewrite: readonly R[] | null;
  lines: string[];
}

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
export class FileSystemAgentRecordPersistence<R extends AgentRecordEnvelope = AgentRecordEnvelope>
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

  #queue: Segment<R>[] = [{ rewrite: null, lines: [] }];
  #inflightLines: string[] | null = null;
  #inflightRewrite: readonly R[] | null = null;
  #pendingBytes = 0;
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
  #released = false;

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
    this.#pendingBytes += line.length;
    this.#progress.enqueue(1, bytes);
    this.#progress.schedule();
  }

  /**
   * Replaces the whole log, atomically once flushed. The records are serialised by the writer in
   * chunks, so a million-record rewrite does not stall the event loop: do not mutate them until
   * `flush()` resolves. A record that cannot be serialised refuses the whole rewrite (reported,
   * and the next `flush()` rejects with it); the old log stays.
   */
  rewrite(records: readonly R[]): void {
    if (this.#closed)
      throw new RecordsClosedError(`${this.file} is closed; open it again to write.`);
    if (this.#progress.refusal) return;
    const copy = records.slice();
    // Whatever was queued before is replaced by the new log; drop it now rather than write it.
    for (const segment of this.#queue) {
      for (const line of segment.lines) this.#pendingBytes -= line.length;
    }
    this.#progress.discard(this.#queuedOps());
    this.#queue = [{ rewrite: copy, lines: [] }];
    this.#progress.enqueue();
    this.#progress.schedule();
  }

  async flush(): Promise<void> {
    // A flush during a failure episode is the retry.
    await this.#progress.waitForAll();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#released) return;
    await this.flush();
    await this.#progress.running;
    if (this.#released) return;
    this.#released = true;
    if (this.#fd !== null) {
      const fd = this.#fd;
      this.#fd = null;
      await this.#ops.close(fd);
    }
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
    let base: readonly R[] | null = this.#inflightRewrite;
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
    let ops = 0;
    for (const segment of this.#queue) ops += (segment.rewrite ? 1 : 0) + segment.lines.length;
    return ops;
  }

  async #run(): Promise<void> {
    while (this.#progress.writable) {
      const segment = this.#queue[0] as Segment<R>;
      if (!segment.rewrite && segment.lines.length === 0) {
        if (this.#queue.length === 1) break;
        this.#queue.shift();
        continue;
      }
      try {
        if (this.#fd === null) await this.#openWriter();
        if (segment.rewrite) {
          this.#inflightRewrite = segment.rewrite;
          segment.rewrite = null;
          await this.#replaceLog(this.#inflightRewrite);
          this.#inflightRewrite = null;
          this.#progress.complete(1);
        } else {
          const lines = segment.lines;
          segment.lines = [];
          this.#inflightLines = lines;
          const bytes = await this.#appendLines(lines);
          this.#inflightLines = null;
          this.#pendingBytes -= bytes;
          this.#progress.complete(lines.length);
        }
      } catch (error) {
        if (this.#inflightRewrite && isRefusedRecord(error)) {
          this.#refuseRewrite(error);
          continue;
        }
        // Fail the waiting flushes first: requeueing may discard work a rewrite superseded,
        // and that must not read as written.
        if (error instanceof RecordsLockedError) {
          this.#inflightLines = null; // refused for good: nothing of this writer is written
          this.#inflightRewrite = null;
          this.#refuse(error);
          return;
        }
        this.#fail(error);
        this.#requeueInflight();
        return;
      }
    }
  }

  /** Writes one batch at the durable end with one fdatasync; returns the record bytes written. */
  async #appendLines(lines: string[]): Promise<number> {
    const fd = this.#fd as number;
    if (this.#dirty) {
      await this.#ops.ftruncate(fd, this.#durableSize);
      this.#dirty = false;
    }
    // A line may point at a blob only once the blob is durable.
    await this.#blobs?.flushPending();
    let position = this.#durableSize;
    let recordBytes = 0;
    let prefix = this.#needsNewline ? '\n' : '';
    this.#dirty = true;
    for (let i = 0; i < lines.length; ) {
      let text = prefix;
      prefix = '';
      while (i < lines.length && text.length < WRITE_CHUNK_BYTES) {
        const line = lines[i++] as string;
        recordBytes += line.length;
        text += `${line}\n`;
      }
      const buffer = Buffer.from(text, 'utf8');
      await writeFully(this.#ops, fd, buffer, position);
      position += buffer.length;
    }
    await this.#ops.fdatasync(fd);
    this.#dirty = false;
    this.#durableSize = position;
    this.#needsNewline = false;
    return recordBytes;
  }

  /** Writes the new log beside the old one, syncs it, renames it over, syncs the directory. */
  async #replaceLog(records: readonly R[]): Promise<void> {
    const dir = path.dirname(this.file);
    const temp = path.join(dir, `.${path.basename(this.file)}.${randomUUID()}.rewrite.tmp`);
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
      await this.#ops.rename(temp, this.file);
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
      await this.#removeAbandonedRewrites(dir);
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
  async #removeAbandonedRewrites(dir: string): Promise<void> {
    const prefix = `.${path.basename(this.file)}.`;
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

  #requeueInflight(): void {
    const head = this.#queue[0] as Segment<R>;
    if (this.#inflightLines) {
      if (head.rewrite) {
        // A rewrite queued meanwhile replaces the whole log: these lines are superseded.
        for (const line of this.#inflightLines) this.#pendingBytes -= line.length;
        this.#progress.discard(this.#inflightLines.length);
      } else {
        head.lines = this.#inflightLines.concat(head.lines);
      }
      this.#inflightLines = null;
    }
    if (this.#inflightRewrite) {
      head.rewrite = this.#inflightRewrite;
      this.#inflightRewrite = null;
    }
  }

  #fail(error: unknown): void {
    this.#progress.fail(
      error,
      (cause) =>
        `Writing ${this.file} failed (${cause.message}); ${this.#queuedOps() + (this.#inflightLines?.length ?? 0)} records stay queued ` +
        'in order and are retried on the next flush().',
    );
  }

  /** A rewrite holding an unserialisable record: drop it whole, keep the old log, say so. */
  #refuseRewrite(error: RecordsSerializeError | RecordsInvalidError): void {
    this.#inflightRewrite = null;
    this.#progress.report(error, { kind: 'record-refused', recordType: error.recordType });
    this.#progress.rejectWaiters(
      new RecordsWriteError(
        `The rewrite of ${this.file} was refused and the old log kept: ${error.message}`,
        { cause: error },
      ),
    );
    this.#progress.discard(1);
  }

  #refuse(error: RecordsLockedError): void {
    this.#queue = [{ rewrite: null, lines: [] }];
    this.#pendingBytes = 0;
    this.#progress.refuse(error);
  }

  #report(error: Error, info: RecordsErrorInfo): void {
    this.#progress.report(error, info);
  }
}

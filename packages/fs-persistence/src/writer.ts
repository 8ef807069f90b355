import { constants } from 'node:fs';
import path from 'node:path';
import type { ErrorReporter } from '@agent-records/backend-kit';
import { RecordsConflictError } from '@agent-records/types';
import { replaceAtomically, WRITE_CHUNK_BYTES } from './atomic-replace.js';
import { divergenceFrom } from './fence.js';
import { errorCode, type FileOperations, syncDirectory, writeFully } from './file-operations.js';
import {
  type FilePosition,
  fingerprintOf,
  identityOf,
  positionAt,
  WINDOW_BYTES,
} from './position.js';
import { recoverTail } from './recovery.js';

/**
 * A batch of up to WRITE_CHUNK_BYTES (1 MiB), or of one line, goes by one write on the `O_DSYNC`
 * descriptor: the write and its data sync in one system call, one thread-pool round trip instead
 * of two. `scripts/measure-dsync-crossover.mjs` found one O_DSYNC write 0.92-0.98x write +
 * fdatasync from 4 KiB to 4 MiB; a larger batch would sync each buffer, so it writes them
 * plainly and fdatasyncs once.
 */
/** Absent where the platform has no O_DSYNC (Windows): every batch then writes and fdatasyncs. */
const O_DSYNC: number | undefined = constants.O_DSYNC;

const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from([NEWLINE]);

/** Memory a view may hold after its batch is written (see `lastLineTail`). */
const KEEP_VIEW_OF_BYTES = 64 * 1024;

/**
 * What a fingerprint hashes of the last line of `view` (which ends with a newline): its last
 * WINDOW_BYTES bytes, newline included. Copied out of a large block (a burst's, a long line's),
 * so that an idle log does not hold it; a view of a small one is kept (a durable append's: the
 * copy was ~6k instructions of each).
 */
function lastLineTail(view: Buffer): Buffer {
  const lineStart = view.lastIndexOf(NEWLINE, view.length - 2) + 1;
  const tail = view.subarray(Math.max(lineStart, view.length - WINDOW_BYTES));
  return view.buffer.byteLength > KEEP_VIEW_OF_BYTES ? Buffer.from(tail) : tail;
}

/** The writer's state as a reader must see it, at one instant (see `reader.ts`). */
export interface WriterState {
  /** Bumped by each rewrite that lands, so a reader can tell the file it opened is current. */
  readonly generation: number;
  /** Bumped when the writer starts opening the file, which a reader's view must not straddle. */
  readonly opens: number;
  /** The open in progress, if any: a reader waits for it rather than straddle it. */
  readonly opening: Promise<void> | null;
  /** Durable bytes of the file, when this instance writes it; else undefined (read to the end). */
  readonly durableEnd: number | undefined;
}

export interface LogWriterOptions {
  fileMode: number;
  dirMode: number;
  /** Runs after the directory exists and before the log is opened: the lock, say. */
  prepare: () => Promise<void>;
  /** Hears warnings (a torn tail cut off and kept aside). */
  errors: ErrorReporter;
}

/**
 * The log file as the writer holds it: one descriptor kept open between batches, the durable
 * end, and the bytes a failed write may have left past it. Appends are group commits (one write
 * of many lines, durable in the same system call through a second, O_DSYNC descriptor, or with
 * one fdatasync when large); a failed one is cut off before the next write, so no half batch
 * and no duplicate ever stays in the log.
 */
export class LogWriter implements WriterState {
  readonly #file: string;
  readonly #ops: FileOperations;
  readonly #options: LogWriterOptions;
  #fd: number | null = null;
  /** The same file opened again with O_DSYNC (a write through it is durable when it returns). */
  #syncFd: number | null = null;
  #durableSize = 0;
  #needsNewline = false;
  /** A failed write may have left bytes past #durableSize: cut them before writing again. */
  #dirty = false;
  #generation = 0;
  #opens = 0;
  #opening: Promise<void> | null = null;
  #closing: Promise<boolean> | null = null;
  /** The open file's inode, identity and the fingerprint of the line before the durable end. */
  #ino: number | undefined;
  #identity = '';
  #fingerprint = '';
  /**
   * The tail of the last line written (see `lastLineTail`), when its fingerprint is not
   * computed yet: hashed only when a position is asked for (a snapshot), not on every durable
   * append's path.
   */
  #lastLine: Buffer | null = null;
  /** The batch whose O_DSYNC write is in flight (see #writeDurably): one at a time. */
  #inFlightFd = 0;
  #inFlightBuffer: Buffer | null = null;
  #inFlightStart = 0;
  #inFlightViews: readonly Buffer[] | null = null;
  /** The log as this instance last read it before opening it, which the open must find. */
  #expected: FilePosition | null = null;

  constructor(file: string, ops: FileOperations, options: LogWriterOptions) {
    this.#file = file;
    this.#ops = ops;
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#fd !== null;
  }

  get generation(): number {
    return this.#generation;
  }

  get opens(): number {
    return this.#opens;
  }

  get opening(): Promise<void> | null {
    return this.#opening;
  }

  get durableEnd(): number | undefined {
    return this.#fd === null ? undefined : this.#durableSize;
  }

  /**
   * The fence: the log as a read of this instance saw it (see `positionRead`), before the writer
   * opens it. The next open, under the lock, checks that the log is still that one (see
   * `divergenceFrom`): else the state read from it no longer matches the log, and the open
   * fails with `RecordsConflictError`, writing nothing and creating no file. Without a read,
   * nothing is checked: the writer appends to whatever the log holds.
   */
  expect(read: FilePosition): void {
    this.#expected = read;
  }

  /** Opens (creating it, and syncing its directory, when new) and recovers the log's tail. */
  open(): Promise<void> {
    this.#opens++;
    const opening = this.#open().finally(() => {
      this.#opening = null;
    });
    this.#opening = opening;
    return opening;
  }

  async #open(): Promise<void> {
    const dir = path.dirname(this.#file);
    await this.#ops.mkdir(dir, this.#options.dirMode);
    await this.#options.prepare();
    const expected = this.#expected;
    let fd: number | null = null;
    // A log read with records must still be there: it is never created again, empty.
    if (expected === null || expected.offset === 0) {
      try {
        fd = await this.#ops.open(this.#file, 'wx', this.#options.fileMode);
        await syncDirectory(this.#ops, dir);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
    }
    if (fd === null) {
      try {
        fd = await this.#ops.open(this.#file, 'r+');
      } catch (error) {
        if (expected === null || errorCode(error) !== 'ENOENT') throw error;
        throw this.#conflict('it does not exist any more (deleted or moved)');
      }
    }
    try {
      const diverged = expected && (await divergenceFrom(this.#ops, fd, expected));
      if (diverged) throw this.#conflict(diverged);
      const end = await recoverTail(
        this.#ops,
        fd,
        this.#file,
        this.#options.fileMode,
        this.#options.errors,
      );
      this.#durableSize = end.durableSize;
      this.#needsNewline = end.needsNewline;
      await this.#learnPosition(fd);
      this.#syncFd = await this.#openSyncDescriptor().catch(() => null);
    } catch (error) {
      await this.#ops.close(fd).catch(() => {});
      throw error;
    }
    this.#expected = null;
    this.#fd = fd;
  }

  #conflict(why: string): RecordsConflictError {
    return new RecordsConflictError(
      `${this.#file} is not the log this instance read: ${why}. What it read no longer matches ` +
        'the log, so nothing it queued was written, and it writes nothing more. Open the ' +
        'session again and replay it to go on from the log as it is now.',
    );
  }

  /**
   * Opens the log a second time with O_DSYNC, or returns null (no O_DSYNC here, or the path no
   * longer names the file the writer holds: then every batch writes and fdatasyncs).
   */
  async #openSyncDescriptor(): Promise<number | null> {
    if (O_DSYNC === undefined) return null;
    const fd = await this.#ops.open(this.#file, constants.O_WRONLY | O_DSYNC);
    const { ino } = await this.#ops.fstat(fd).catch(() => ({ ino: undefined }));
    if (ino !== undefined && ino === this.#ino) return fd;
    await this.#ops.close(fd).catch(() => {});
    return null;
  }

  /**
   * Writes one batch at the durable end, durably: one buffer by one write on the O_DSYNC
   * descriptor (see `O_DSYNC` above), several by plain writes and one fdatasync.
   * `beforeWrite` runs once the file is back at its durable end, and returns a promise only when
   * there is something to wait for (blobs the lines point at must be durable before the lines
   * are). Until the batch is durable the file is dirty: whatever a failed write or sync left past
   * the durable end is cut before the next write.
   *
   * Split in small parts, the one a durable append runs an async function with few locals: its
   * frame is allocated per call, and a smaller function is optimised sooner and more cheaply.
   */
  append(views: readonly Buffer[], beforeWrite: () => Promise<void> | undefined): Promise<void> {
    if (this.#dirty) return this.#cutThenAppend(views, beforeWrite);
    const before = beforeWrite();
    if (before !== undefined) return before.then(() => this.#appendAtEnd(views));
    return this.#appendAtEnd(views);
  }

  /** Cuts what a failed batch left past the durable end, then appends. */
  async #cutThenAppend(
    views: readonly Buffer[],
    beforeWrite: () => Promise<void> | undefined,
  ): Promise<void> {
    await this.#ops.ftruncate(this.#fd as number, this.#durableSize);
    this.#dirty = false;
    await beforeWrite();
    await this.#appendAtEnd(views);
  }

  /**
   * The file is at its durable end. `views` are the batch's lines as the queue keeps them (see
   * `PendingLines`): whole lines, each with its newline, written from there with no copy.
   */
  #appendAtEnd(views: readonly Buffer[]): Promise<void> {
    const start = this.#durableSize;
    this.#dirty = true;
    const syncFd = this.#syncFd;
    if (syncFd !== null) {
      // One buffer (a durable append, a small burst): as it is. A small burst whose lines fill
      // more than one of the queue's blocks, or after the newline an unterminated last line
      // lacks: joined, still one write.
      if (views.length === 1 && !this.#needsNewline) {
        return this.#writeDurably(syncFd, views[0] as Buffer, start, views);
      }
      let bytes = this.#needsNewline ? 1 : 0;
      for (const view of views) bytes += view.length;
      if (bytes <= WRITE_CHUNK_BYTES) {
        const parts = this.#needsNewline ? [NEWLINE_BYTES, ...views] : views;
        return this.#writeDurably(syncFd, Buffer.concat(parts, bytes), start, views);
      }
    }
    return this.#writeAndSync(this.#fd as number, views, start);
  }

  /**
   * One buffer, the whole batch, by one write on the O_DSYNC descriptor. Not an async function:
   * this runs once per durable append, and its frame and promise (~450 bytes with the write's
   * closure) cost more than keeping the batch in fields (one write is in flight at a time) and
   * going on in handlers made once. The write itself is out of line (#writeInFlight): this way
   * both stay under V8's 81 bytecodes and are optimised at their first budget tick (~1,100
   * appends) instead of the third (~2,000, when the bench's steady window begins), a compile that
   * stalled the durable append it overlapped (docs/decisions.md 12).
   */
  #writeDurably(
    syncFd: number,
    buffer: Buffer,
    start: number,
    views: readonly Buffer[],
  ): Promise<void> {
    this.#inFlightFd = syncFd;
    this.#inFlightBuffer = buffer;
    this.#inFlightStart = start;
    this.#inFlightViews = views;
    return this.#writeInFlight().then(this.#durablyWritten, this.#durableWriteFailed);
  }

  /** The in-flight batch's write; a seam that throws rejects instead, as an async function did. */
  #writeInFlight(): Promise<number> {
    const buffer = this.#inFlightBuffer as Buffer;
    try {
      return this.#ops.write(this.#inFlightFd, buffer, 0, buffer.length, this.#inFlightStart);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The O_DSYNC write returned `written` bytes: durable; a short write goes on from there. */
  readonly #durablyWritten = (written: number): Promise<void> | undefined => {
    const buffer = this.#inFlightBuffer as Buffer;
    const views = this.#inFlightViews as readonly Buffer[];
    const start = this.#inFlightStart;
    this.#inFlightBuffer = null;
    this.#inFlightViews = null;
    if (written < buffer.length) return this.#writeRest(buffer, written, start, views);
    this.#landed(views, start + buffer.length);
    return undefined;
  };

  readonly #durableWriteFailed = (error: unknown): Promise<void> | undefined => {
    if (errorCode(error) === 'EAGAIN') return this.#durablyWritten(0); // writeFully retries it
    this.#inFlightBuffer = null;
    this.#inFlightViews = null;
    throw error;
  };

  /** The rest of a short O_DSYNC write (its bytes are durable too). */
  async #writeRest(
    buffer: Buffer,
    written: number,
    start: number,
    views: readonly Buffer[],
  ): Promise<void> {
    await writeFully(this.#ops, this.#inFlightFd, buffer.subarray(written), start + written);
    this.#landed(views, start + buffer.length);
  }

  /**
   * A batch of several buffers (its lines span blocks of the queue, each at most ~1 MiB unless a
   * single line is longer), or no O_DSYNC descriptor: plain writes, then one fdatasync.
   */
  async #writeAndSync(fd: number, views: readonly Buffer[], start: number): Promise<void> {
    let position = start;
    if (this.#needsNewline && views.length > 0) {
      await writeFully(this.#ops, fd, NEWLINE_BYTES, position);
      position += 1;
    }
    for (const view of views) {
      await writeFully(this.#ops, fd, view, position);
      position += view.length;
    }
    await this.#ops.fdatasync(fd);
    this.#landed(views, position);
  }

  /** The batch is durable up to `end`. */
  #landed(views: readonly Buffer[], end: number): void {
    this.#dirty = false;
    if (views.length > 0) {
      // The log's first line was just written: the file has an identity from now on.
      if (this.#durableSize === 0) this.#identity = identityOf(this.#ino, views[0] as Buffer);
      this.#lastLine = lastLineTail(views[views.length - 1] as Buffer);
    }
    this.#durableSize = end;
    this.#needsNewline = false;
  }

  /**
   * The position of the durable end, at once (no I/O): what the writer knows of the last line
   * it wrote and of the file's identity, as `readFrom` would work it out from the file.
   */
  position(): FilePosition {
    if (this.#durableSize === 0) return { offset: 0, fingerprint: '', log: this.#identity };
    if (this.#lastLine !== null) {
      this.#fingerprint = fingerprintOf(this.#lastLine);
      this.#lastLine = null;
    }
    return { offset: this.#durableSize, fingerprint: this.#fingerprint, log: this.#identity };
  }

  /** The file's identity and the fingerprint at its durable end, read from the file. */
  async #learnPosition(fd: number): Promise<void> {
    this.#ino = (await this.#ops.fstat(fd)).ino;
    const at = await positionAt(this.#ops, fd, this.#durableSize, this.#durableSize);
    this.#identity = at.log;
    this.#fingerprint = at.fingerprint;
    this.#lastLine = null;
  }

  /** Replaces the whole log atomically (see `replaceAtomically`), then appends to the new one. */
  async replace<R>(
    records: readonly R[],
    serialize: (record: R) => string,
    beforeRename: () => Promise<void>,
  ): Promise<void> {
    const size = await replaceAtomically(
      this.#ops,
      this.#file,
      this.#options.fileMode,
      records,
      serialize,
      beforeRename,
    );
    const previous = [this.#fd, this.#syncFd];
    this.#syncFd = null;
    this.#fd = await this.#ops.open(this.#file, 'r+');
    this.#generation++;
    this.#durableSize = size;
    this.#needsNewline = false;
    this.#dirty = false;
    for (const fd of previous) if (fd !== null) await this.#ops.close(fd).catch(() => {});
    await this.#learnPosition(this.#fd);
    this.#syncFd = await this.#openSyncDescriptor().catch(() => null);
  }

  /**
   * Closes the descriptor. Bytes a failed batch left past the durable end are cut first, while
   * the caller still holds the lock: once it is released, a retry could not tell them from
   * another writer's records and would write them twice. (No sync needed: every process sees
   * the cut at once, and after a crash those records' flush never resolved anyway.) Returns
   * false, keeping the descriptor, when even the cut fails: the retry must cut them.
   */
  close(): Promise<boolean> {
    // Two close() calls at once share one: closing a descriptor twice could close another
    // file that reused its number.
    this.#closing ??= this.#close().finally(() => {
      this.#closing = null;
    });
    return this.#closing;
  }

  async #close(): Promise<boolean> {
    const fd = this.#fd;
    if (fd === null) return true;
    if (this.#dirty) {
      try {
        await this.#ops.ftruncate(fd, this.#durableSize);
        this.#dirty = false;
      } catch {
        return false;
      }
    }
    const syncFd = this.#syncFd;
    this.#fd = null;
    this.#syncFd = null;
    await this.#ops.close(fd).catch(() => {});
    if (syncFd !== null) await this.#ops.close(syncFd).catch(() => {});
    return true;
  }
}

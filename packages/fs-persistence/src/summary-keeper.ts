import type { FileOperations } from './file-operations.js';
import { countLinesIn } from './line-reader.js';
import { logIdentity } from './position.js';
import {
  createdAtOfFirstLine,
  type LogSummary,
  readLogSummary,
  writeLogSummary,
} from './summary.js';

/** Routine summary writes are at least this far apart (a title's durable write is not held). */
const MIN_INTERVAL_MS = 250;
const NEWLINE = 0x0a;

/**
 * Keeps a log's summary file current for the writer (see `summary.ts`): after each batch the
 * writer calls {@link appended} (or {@link rewritten}), which schedules one write of the summary
 * off the writer's path; writes coalesce, so there is at most one per batch and never two at
 * once. Nothing waits for them but `close()`: `flush()` never does, so durable appends do not
 * get slower. A title ({@link writeTitle}) is the one durable write: it exists nowhere else.
 *
 * The record count is the count stored in the previous summary plus the lines after it, counted
 * once when the writer opens the log (only the part the summary does not cover; the whole log
 * when there is no usable summary, a one-time cost for a log written before summaries existed),
 * then kept by adding each batch's lines. It is absent from the summary until known.
 */
export class SummaryKeeper {
  readonly #file: string;
  readonly #ops: FileOperations;
  readonly #fileMode: number;
  /** Bumped on open, rewrite and close: work begun under an older one is dropped. */
  #generation = 0;
  #open = false;
  /** Records in the log when it was `#bytes - bytes appended since` long: null until counted. */
  #baseRecords: number | null = null;
  #linesSince = 0;
  #bytes = 0;
  #identity: { log: string; ino: number } | null = null;
  #createdAt: number | undefined;
  #title: string | undefined;
  /** The stored summary read and the log's start looked at: writes wait for this, not the count. */
  #loaded: Promise<void> = Promise.resolve();
  /** The count of the lines the stored summary does not cover, while it runs. */
  #counting: Promise<void> = Promise.resolve();
  /** Every write, in turn. */
  #chain: Promise<void> = Promise.resolve();
  #dirty = false;
  #queued = false;
  /** Writes what changed every MIN_INTERVAL_MS while the log changes; stops when it does not. */
  #ticker: ReturnType<typeof setInterval> | null = null;

  constructor(file: string, ops: FileOperations, fileMode: number) {
    this.#file = file;
    this.#ops = ops;
    this.#fileMode = fileMode;
  }

  /** The writer opened the log, `size` bytes long (its durable end). */
  opened(size: number): void {
    const generation = ++this.#generation;
    this.#open = true;
    this.#bytes = size;
    this.#baseRecords = null;
    this.#linesSince = 0;
    this.#identity = null;
    this.#loaded = this.#load(generation, size).catch(() => {});
  }

  /** A batch of `lines` records landed; the log is now `size` bytes. */
  appended(lines: number, size: number): void {
    this.#linesSince += lines;
    this.#bytes = size;
    this.#dirty = true;
    // Kept this short (it runs after every durable append): while appends go on the ticker
    // writes; starting it is the rare path, once per burst.
    if (this.#ticker === null) this.#schedule();
  }

  /** A rewrite of `records` records landed; the log is now `size` bytes, another file. */
  rewritten(records: number, size: number): void {
    this.#generation++; // a count of the old file in progress is of no use any more
    this.#createdAt = undefined; // the new first record says, as for a new log
    this.#baseRecords = records;
    this.#linesSince = 0;
    this.#bytes = size;
    this.#identity = null;
    this.#schedule();
  }

  /** Stores `title` durably (fsynced) in the summary; rejects when that write fails. */
  writeTitle(title: string): Promise<void> {
    this.#title = title;
    const written = this.#chain.then(async () => {
      await this.#loaded;
      await this.#write(true);
    });
    this.#chain = written.catch(() => {});
    return written;
  }

  /**
   * Lets a count in progress finish (once per log written before summaries, else only the lines
   * a stale summary missed) and waits for the last write: the writer is closing the log.
   */
  async close(): Promise<void> {
    await this.#loaded;
    await this.#counting;
    this.#stopTicking();
    this.#enqueueWrite(); // the update the ticker was holding back, now
    this.#open = false;
    this.#generation++;
    await this.#chain;
  }

  /**
   * A write of the summary soon: at once when the ticker is not going (no change for at least
   * {@link MIN_INTERVAL_MS}), else at its next tick, so at most one per interval (a summary a
   * fraction of a second old is as good to a listing, and frequent small writes beside the log
   * slowed durable appends by half: see the README's figures). `close()` writes a pending one
   * at once. A ticker rather than a timer armed per write: the per-batch path is one check,
   * with no clock read and no timer armed or cleared in it.
   */
  #schedule(): void {
    this.#dirty = true;
    if (this.#ticker !== null || !this.#open) return;
    this.#enqueueWrite();
    this.#ticker = setInterval(() => this.#tick(), MIN_INTERVAL_MS);
    this.#ticker.unref?.(); // a cache: never what keeps a process alive
  }

  /** Writes what changed since the last tick; a tick with nothing to write stops the ticker. */
  #tick(): void {
    if (this.#dirty || this.#queued) this.#enqueueWrite();
    else this.#stopTicking();
  }

  #stopTicking(): void {
    if (this.#ticker === null) return;
    clearInterval(this.#ticker);
    this.#ticker = null;
  }

  #enqueueWrite(): void {
    if (this.#queued || !this.#dirty) return;
    this.#queued = true;
    this.#chain = this.#chain.then(async () => {
      this.#queued = false;
      if (!this.#dirty) return;
      this.#dirty = false;
      await this.#loaded;
      // A cache: a write that fails (a full disk, the log's folder removed) is not reported;
      // the next batch writes it again, and until then list() falls back to what stat says.
      await this.#write(false).catch(() => {});
    });
  }

  async #write(durable: boolean): Promise<void> {
    // The count and the size of one moment, taken before any await: a batch landing during the
    // lookups below would otherwise be counted in `records` but not in `bytes`, and a listing
    // (which adds the lines after `bytes`) would count it twice.
    const bytes = this.#bytes;
    const records = this.#baseRecords === null ? undefined : this.#baseRecords + this.#linesSince;
    const identity = await this.#identityOf(bytes);
    let createdAt = this.#createdAt;
    if (createdAt === undefined && bytes > 0) {
      createdAt = this.#createdAt = (await this.#createdAtInLog()) ?? Date.now();
    }
    const summary: LogSummary = {
      createdAt: createdAt ?? Date.now(),
      updatedAt: Date.now(),
      ...(records !== undefined && { records }),
      bytes,
      ...(this.#title !== undefined && { title: this.#title }),
      ...identity,
    };
    await writeLogSummary(this.#ops, this.#file, summary, { durable, fileMode: this.#fileMode });
  }

  /** The log's identity, looked up once per file (an empty log has none yet). */
  async #identityOf(bytes: number): Promise<{ log: string; ino: number }> {
    if (this.#identity) return this.#identity;
    const fd = await this.#ops.open(this.#file, 'r');
    try {
      const { ino } = await this.#ops.fstat(fd);
      const identity = {
        log: bytes > 0 ? await logIdentity(this.#ops, fd, bytes) : '',
        ino: ino ?? 0,
      };
      if (bytes > 0) this.#identity = identity;
      return identity;
    } finally {
      await this.#ops.close(fd).catch(() => {});
    }
  }

  async #createdAtInLog(): Promise<number | undefined> {
    const fd = await this.#ops.open(this.#file, 'r');
    try {
      const head = Buffer.allocUnsafe(64 * 1024);
      const read = await this.#ops.read(fd, head, 0, head.length, 0);
      return createdAtOfFirstLine(head.subarray(0, read));
    } finally {
      await this.#ops.close(fd).catch(() => {});
    }
  }

  /**
   * Reads the stored summary (its title and createdAt carry over), then counts the lines it
   * does not cover, in the background: writes before the count is done leave `records` out.
   */
  async #load(generation: number, size: number): Promise<void> {
    const stored = await readLogSummary(this.#file).catch(() => null);
    if (generation !== this.#generation) return;
    // An empty log's summary only guessed createdAt (now); its first record will say.
    if (stored && stored.bytes > 0) this.#createdAt ??= stored.createdAt;
    this.#title ??= stored?.title;
    this.#counting = this.#count(generation, size, stored).catch(() => {});
  }

  async #count(generation: number, size: number, stored: LogSummary | null): Promise<void> {
    const fd = await this.#ops.open(this.#file, 'r');
    try {
      const { ino } = await this.#ops.fstat(fd);
      let from = 0;
      let records = 0;
      if (
        stored?.records !== undefined &&
        stored.ino === (ino ?? 0) &&
        stored.bytes <= size &&
        (stored.bytes === 0 || (await this.#byteAt(fd, stored.bytes - 1)) === NEWLINE) &&
        (stored.bytes === 0 || stored.log === (await logIdentity(this.#ops, fd, stored.bytes)))
      ) {
        from = stored.bytes;
        records = stored.records;
      }
      const counted =
        (await countLinesIn(this.#ops, fd, from, size, () => generation !== this.#generation))
          ?.lines ?? null;
      if (counted === null || generation !== this.#generation) return;
      this.#baseRecords = records + counted;
    } finally {
      await this.#ops.close(fd).catch(() => {});
    }
    this.#schedule();
  }

  async #byteAt(fd: number, offset: number): Promise<number | undefined> {
    const one = Buffer.alloc(1);
    return (await this.#ops.read(fd, one, 0, 1, offset)) === 1 ? one[0] : undefined;
  }
}

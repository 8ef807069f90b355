import { randomUUID } from 'node:crypto';
import { open, utimes } from 'node:fs/promises';
import path from 'node:path';
import {
  BlobCache,
  blobReplacer,
  type DataUriBlob,
  DEFAULT_BLOB_CACHE_CHARS,
  DEFAULT_BLOB_THRESHOLD,
  dataUriOf,
  type ErrorReporter,
  isBlobHash,
  restoreBlobRefs,
} from '@agent-records/backend-kit';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { errorCode, type FileOperations, writeFully } from '../file-operations.js';

/** Options of the blob store: where blobs live and which strings go there. */
export interface BlobOptions {
  /** The folder of content-addressed blob files (created 0700). */
  dir: string;
  /** `data:<mime>;base64,` strings longer than this many characters move out of line (default 4096). */
  threshold?: number;
  /**
   * Characters of base64 kept in memory for blobs that come back often (default 16 MiB); a blob
   * bigger than a quarter of it is not cached, so one replay of many images stays lean.
   */
  cacheBytes?: number;
}

/** Where a blob of this hash lives, or null for anything that is not a sha256 in hex. */
export function blobPath(dir: string, hash: string): string | null {
  return isBlobHash(hash) ? path.join(dir, hash) : null;
}

/**
 * Content-addressed storage for large `data:` URIs found anywhere in a record (which strings
 * move, the reference, its escape and the cache are the kit's blob codec; the files are ours).
 * Writing replaces each with `blobref:<mime>;<sha256>` (the host's object is never touched: a `JSON.stringify`
 * replacer does it while serialising), and the blob is made durable before the line that points
 * at it. Reading puts the data URI back, through a byte-bounded LRU cache.
 */
export class BlobStore {
  readonly dir: string;
  readonly threshold: number;
  readonly #ops: FileOperations;
  readonly #mode: number;
  readonly #dirMode: number;
  readonly #errors: ErrorReporter;
  /**
   * Blobs the lines queued since the last flush point at, by hash: each is written, or found and
   * refreshed, before those lines are (even one this instance wrote before: gc may have removed it).
   */
  #pending = new Map<string, Buffer>();
  /** The pending blobs of the flush in progress (still served to readers from memory). */
  #flushing: Map<string, Buffer> | null = null;
  /** Hashes this instance wrote or found durable (found ones need the folder synced once). */
  #durable = new Set<string>();
  #pendingBytes = 0;
  readonly #cache: BlobCache;
  #warned = new Set<string>();
  #dirReady = false;
  #readBuffer: Buffer = Buffer.alloc(0);

  constructor(
    options: BlobOptions,
    ops: FileOperations,
    modes: { file: number; dir: number },
    errors: ErrorReporter,
  ) {
    this.dir = path.resolve(options.dir);
    this.threshold = options.threshold ?? DEFAULT_BLOB_THRESHOLD;
    this.#cache = new BlobCache(options.cacheBytes ?? DEFAULT_BLOB_CACHE_CHARS);
    this.#ops = ops;
    this.#mode = modes.file;
    this.#dirMode = modes.dir;
    this.#errors = errors;
    this.replacer = blobReplacer(this.threshold, (blob: DataUriBlob) => {
      if (!this.#pending.has(blob.hash)) {
        this.#pending.set(blob.hash, blob.bytes);
        this.#pendingBytes += blob.bytes.length;
      }
      this.#cache.remember(blob.hash, blob.base64);
    });
  }

  /** Bytes of blobs waiting to be written. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * A `JSON.stringify` replacer that moves large data URIs out of line and escapes host strings
   * that start with `blobref:`. Only canonical base64 moves out, so the data URI read back is the
   * very text appended, and one hash always stands for one text (the cache is keyed by it).
   */
  readonly replacer: (key: string, value: unknown) => unknown;

  /**
   * Makes every blob the queued lines point at durable, before those lines are written. A blob
   * already in the folder is refreshed (its mtime set to now), which both checks that it is still
   * there and keeps it young for gc's grace period; a missing one (never written, or removed by gc
   * since this instance wrote it) is written: temp file (exclusive create), fsync, rename. The
   * folder is synced when anything new to this instance is in it.
   */
  async flushPending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flushing = batch;
    try {
      if (!this.#dirReady) {
        await this.#ops.mkdir(this.dir, this.#dirMode);
        this.#dirReady = true;
      }
      let syncFolder = false;
      for (const [hash, bytes] of batch) {
        const target = path.join(this.dir, hash);
        if (!(await refresh(target))) {
          await this.#write(hash, bytes, target);
          syncFolder = true;
        } else if (!this.#durable.has(hash)) {
          syncFolder = true; // another writer's rename: make sure it is durable too
        }
        this.#durable.add(hash);
        batch.delete(hash);
        this.#pendingBytes -= bytes.length;
      }
      if (syncFolder) await this.#syncFolder();
    } catch (error) {
      // What is not done yet is retried with the next flush, with whatever was found meanwhile.
      for (const [hash, bytes] of this.#pending) {
        if (batch.has(hash)) this.#pendingBytes -= bytes.length;
        else batch.set(hash, bytes);
      }
      this.#pending = batch;
      throw error;
    } finally {
      this.#flushing = null;
    }
  }

  async #write(hash: string, bytes: Buffer, target: string): Promise<void> {
    const temp = path.join(this.dir, `.${hash}.${randomUUID()}.tmp`);
    const fd = await this.#ops.open(temp, 'wx', this.#mode).catch(async (error) => {
      if (errorCode(error) !== 'ENOENT') throw error;
      // The whole blob folder was removed since this instance made it: make it again.
      await this.#ops.mkdir(this.dir, this.#dirMode);
      return this.#ops.open(temp, 'wx', this.#mode);
    });
    try {
      await writeFully(this.#ops, fd, bytes, 0);
      await this.#ops.fsync(fd);
    } catch (error) {
      await this.#ops.close(fd).catch(() => {});
      await this.#ops.unlink(temp).catch(() => {});
      throw error;
    }
    await this.#ops.close(fd);
    // Same name, same content: an existing blob is simply replaced by its twin.
    await this.#ops.rename(temp, target);
  }

  async #syncFolder(): Promise<void> {
    const fd = await this.#ops.open(this.dir, 'r');
    try {
      await this.#ops.fsync(fd);
    } finally {
      await this.#ops.close(fd);
    }
  }

  /**
   * Puts data URIs back into one parsed record, in place; returns the characters it added.
   * Never throws for a bad or missing blob.
   */
  async restore(record: AgentRecordEnvelope): Promise<number> {
    return restoreBlobRefs(
      record,
      (ref) => this.#load(ref),
      (ref) =>
        this.#warn(
          ref,
          `a blob reference with an invalid hash was left as it is: ${ref.slice(0, 120)}`,
        ),
    );
  }

  async #load({ ref, mime, hash }: { ref: string; mime: string; hash: string }) {
    const cached = this.#cache.get(hash);
    if (cached !== undefined) return dataUriOf(mime, cached);
    let bytes: Buffer;
    try {
      bytes =
        this.#pending.get(hash) ??
        this.#flushing?.get(hash) ??
        (await this.#readBlob(path.join(this.dir, hash))); // a valid hash: never outside dir
    } catch (error) {
      this.#warn(
        ref,
        `blob ${hash} is ${errorCode(error) === 'ENOENT' ? 'missing' : `unreadable (${(error as Error).message})`} in ${this.dir}; the record keeps the reference ${ref.slice(0, 120)}`,
      );
      return null;
    }
    const base64 = bytes.toString('base64');
    this.#cache.remember(hash, base64);
    return dataUriOf(mime, base64);
  }

  /**
   * Reads a blob into one buffer reused from blob to blob: only the base64 string is new per
   * blob, so a replay through many images does not churn the allocator with a buffer each.
   */
  async #readBlob(file: string): Promise<Buffer> {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (this.#readBuffer.length < size) this.#readBuffer = Buffer.allocUnsafe(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(this.#readBuffer, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return this.#readBuffer.subarray(0, done);
    } finally {
      await handle.close();
    }
  }

  #warn(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#errors.report(new Error(message), { kind: 'warning' }); // never throws: reads go on
  }
}

/**
 * Sets a blob's times to now; false when it could not (missing, or not ours to touch: then it is
 * written again, which refreshes it just as well). Straight through `node:fs`, like the blob
 * reads: the `FileOperations` seam has no utimes, and a failure here only means a rewrite.
 */
async function refresh(file: string): Promise<boolean> {
  const now = new Date();
  return utimes(file, now, now).then(
    () => true,
    () => false,
  );
}

import { createHash, randomUUID } from 'node:crypto';
import { open, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorReporter } from '@agent-records/backend-kit';
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

const DATA_URI = /^data:([A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+);base64,/;
export const BLOB_REF_PREFIX = 'blobref:';
/**
 * How a host string that itself starts with `blobref:` is written: `blobref:~` + the rest. `~`
 * can never start a reference (a mime type starts with a letter, digit or one of `!#$&^_.+-`),
 * so an escaped string is never read as a reference, and a reference never as an escape.
 */
export const ESCAPED_PREFIX = 'blobref:~';
const BLOB_REF = /^blobref:([^;]*);(.*)$/;
export const HASH = /^[0-9a-f]{64}$/;
/** Last data characters whose unused low bits are zero, before `==` and before `=`. */
const BEFORE_TWO_PADS = 'AQgw';
const BEFORE_ONE_PAD = 'AEIMQUYcgkosw048';

/**
 * The bytes of `value` from `start` on when that text is base64 exactly as
 * `Buffer#toString('base64')` writes it (so re-encoding them gives back the same text), else
 * null. Canonical means: a length that is a multiple of four, `=` only as the last one or two
 * characters with zero unused bits before them, and nothing but the standard alphabet. The last
 * one is proved without a scan of our own: Node's decoder skips any other ASCII character and
 * stops at a stray `=`, so a full-length result means every character was a digit; the
 * URL-safe `-` and `_` (which it also accepts) and non-ASCII characters (which it truncates to a
 * byte) are ruled out first by fast native searches. The property test checks this against a
 * real decode and re-encode; it costs about 1 ms per 4 MB on top of the decode, where a regex
 * scan costs 5-10 ms and a re-encode makes a second full copy.
 */
export function decodeCanonicalBase64(value: string, start: number): Buffer | null {
  const length = value.length - start;
  if (length % 4 !== 0) return null;
  let end = value.length;
  if (end > start && value.charCodeAt(end - 1) === 0x3d) end--;
  if (end > start && value.charCodeAt(end - 1) === 0x3d) end--;
  const pads = value.length - end;
  if (pads > 0) {
    if (end === start) return null;
    if (!(pads === 2 ? BEFORE_TWO_PADS : BEFORE_ONE_PAD).includes(value.charAt(end - 1))) {
      return null;
    }
  }
  if (value.indexOf('-', start) !== -1 || value.indexOf('_', start) !== -1) return null;
  const payload = start === 0 ? value : value.slice(start);
  if (Buffer.byteLength(payload, 'utf8') !== length) return null; // a non-ASCII character
  const bytes = Buffer.from(payload, 'base64');
  return bytes.length === (length / 4) * 3 - pads ? bytes : null;
}

/** Whether `value` from `start` on is canonical base64 (see `decodeCanonicalBase64`). */
export function isCanonicalBase64(value: string, start: number): boolean {
  return decodeCanonicalBase64(value, start) !== null;
}

/** Where a blob of this hash lives, or null for anything that is not a sha256 in hex. */
export function blobPath(dir: string, hash: string): string | null {
  return HASH.test(hash) ? path.join(dir, hash) : null;
}

/**
 * Content-addressed storage for large `data:` URIs found anywhere in a record. Writing replaces
 * each with `blobref:<mime>;<sha256>` (the host's object is never touched: a `JSON.stringify`
 * replacer does it while serialising), and the blob is made durable before the line that points
 * at it. Reading puts the data URI back, through a byte-bounded LRU cache.
 */
export class BlobStore {
  readonly dir: string;
  readonly threshold: number;
  readonly #cacheBytes: number;
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
  /** Base64 of recently used blobs, by hash, least recently used first. */
  #cache = new Map<string, string>();
  #cached = 0;
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
    this.threshold = options.threshold ?? 4096;
    this.#cacheBytes = options.cacheBytes ?? 16 * 1024 * 1024;
    this.#ops = ops;
    this.#mode = modes.file;
    this.#dirMode = modes.dir;
    this.#errors = errors;
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
  readonly replacer = (_key: string, value: unknown): unknown => {
    if (typeof value !== 'string') return value;
    if (value.startsWith(BLOB_REF_PREFIX))
      return ESCAPED_PREFIX + value.slice(BLOB_REF_PREFIX.length);
    if (value.length <= this.threshold || !value.startsWith('data:')) return value;
    const match = DATA_URI.exec(value);
    const bytes = match ? decodeCanonicalBase64(value, match[0].length) : null;
    if (!match || !bytes) return value;
    const mime = match[1] as string;
    const base64 = value.slice(match[0].length);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (!this.#pending.has(hash)) {
      this.#pending.set(hash, bytes);
      this.#pendingBytes += bytes.length;
    }
    this.#remember(hash, base64);
    return `${BLOB_REF_PREFIX}${mime};${hash}`;
  };

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
    const refs = new Set<string>();
    collectRefs(record, refs);
    if (refs.size === 0) return 0;
    const resolved = new Map<string, string>();
    let added = 0;
    for (const ref of refs) {
      const uri = await this.#load(ref);
      if (uri === null) continue;
      resolved.set(ref, uri);
      added += uri.length;
    }
    replaceRefs(record, resolved);
    return added;
  }

  async #load(ref: string): Promise<string | null> {
    if (ref.startsWith(ESCAPED_PREFIX)) return BLOB_REF_PREFIX + ref.slice(ESCAPED_PREFIX.length);
    const match = BLOB_REF.exec(ref);
    const mime = match?.[1] ?? '';
    const hash = match?.[2] ?? '';
    const file = blobPath(this.dir, hash);
    if (!match || !file) {
      this.#warn(
        ref,
        `a blob reference with an invalid hash was left as it is: ${ref.slice(0, 120)}`,
      );
      return null;
    }
    const cached = this.#cache.get(hash);
    if (cached !== undefined) {
      this.#cache.delete(hash);
      this.#cache.set(hash, cached);
      return `data:${mime};base64,${cached}`;
    }
    let bytes: Buffer;
    try {
      bytes = this.#pending.get(hash) ?? this.#flushing?.get(hash) ?? (await this.#readBlob(file));
    } catch (error) {
      this.#warn(
        ref,
        `blob ${hash} is ${errorCode(error) === 'ENOENT' ? 'missing' : `unreadable (${(error as Error).message})`} in ${this.dir}; the record keeps the reference ${ref.slice(0, 120)}`,
      );
      return null;
    }
    const base64 = bytes.toString('base64');
    this.#remember(hash, base64);
    return `data:${mime};base64,${base64}`;
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

  #remember(hash: string, base64: string): void {
    if (base64.length > this.#cacheBytes / 4) return;
    const previous = this.#cache.get(hash);
    if (previous !== undefined) {
      this.#cache.delete(hash);
      this.#cached -= previous.length;
    }
    this.#cache.set(hash, base64);
    this.#cached += base64.length;
    for (const [oldest, entry] of this.#cache) {
      if (this.#cached <= this.#cacheBytes) break;
      this.#cache.delete(oldest);
      this.#cached -= entry.length;
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

function collectRefs(value: unknown, refs: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith(BLOB_REF_PREFIX)) refs.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, refs);
  } else if (typeof value === 'object' && value !== null) {
    for (const key in value) collectRefs((value as Record<string, unknown>)[key], refs);
  }
}

function replaceRefs(value: unknown, resolved: Map<string, string>): unknown {
  if (typeof value === 'string') return resolved.get(value) ?? value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = replaceRefs(value[i], resolved);
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    for (const key in object) object[key] = replaceRefs(object[key], resolved);
  }
  return value;
}

/** Every blob hash a JSON Lines text references. */
export function refsInText(text: string, into: Set<string>): void {
  const pattern = /"blobref:[^;"]*;([0-9a-f]{64})"/g;
  for (const match of text.matchAll(pattern)) into.add(match[1] as string);
}

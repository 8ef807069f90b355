import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { blobHashesInText, isBlobHash } from '@agent-records/backend-kit';
import { errorCode } from '../file-operations.js';

export interface BlobGarbageOptions {
  /** The blob folder. */
  blobDir: string;
  /** Every log that may reference blobs in it (all the logs of a store: see `logFilesIn`). */
  logs: readonly string[];
  /** Report only; remove nothing. */
  dryRun?: boolean;
  /**
   * Blobs younger than this many milliseconds are kept even when unreferenced (default one hour):
   * a live writer writes or refreshes a blob just before the line that points at it, so a line
   * not yet in the logs gc read points at a young blob. 0 turns the protection off: use it only
   * when no writer is running.
   */
  minAgeMs?: number;
}

export interface BlobGarbageReport {
  blobDir: string;
  referenced: number;
  kept: number;
  keptBytes: number;
  removed: Array<{ hash: string; bytes: number }>;
  removedBytes: number;
  /** Unreferenced blobs kept because they are younger than `minAgeMs`. */
  tooYoung: number;
  dryRun: boolean;
}

/**
 * Names in a store folder that hold no records and no host state: lock files (`<log>.lock`) and
 * summaries (`<log>.summary.json`, and their temp files `.<log>.<id>.summary.tmp`).
 */
const NOT_RECORDS = /\.lock$|\.summary\.json$|\.summary\.tmp$/;

/**
 * Every file of a store folder that may reference blobs: each log (`*.jsonl`, dotfiles too: a
 * log of an id refused today may have been written before) and the backend's files that hold
 * records of a log (kept torn tails `<log>.torn-*`, a rewrite in progress
 * `.<log>.<id>.rewrite.tmp`) or the host's state (the snapshot `<log>.snapshot` and its temp
 * files `.<log>.<id>.snapshot.tmp`: a state may hold a blob reference). Lock files, summaries and
 * folders are skipped. Reading a file too many only
 * keeps a blob longer; missing one would lose it. An absent folder has none.
 */
export async function logFilesIn(root: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.name.includes('.jsonl') || NOT_RECORDS.test(entry.name)) continue;
    const file = path.join(root, entry.name);
    if (
      entry.isFile() ||
      (entry.isSymbolicLink() && (await stat(file).catch(() => null))?.isFile())
    )
      files.push(file);
  }
  return files.sort();
}

/** Every blob hash the given logs reference, read line by line in constant memory. */
export async function referencedBlobs(logs: readonly string[]): Promise<Set<string>> {
  const refs = new Set<string>();
  for (const log of logs) {
    let carry = '';
    try {
      for await (const chunk of createReadStream(log, {
        encoding: 'utf8',
        highWaterMark: 1024 * 1024,
      })) {
        const text = carry + (chunk as string);
        const cut = text.lastIndexOf('\n');
        blobHashesInText(cut === -1 ? '' : text.slice(0, cut), refs);
        carry = cut === -1 ? text : text.slice(cut + 1);
      }
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue;
      throw error;
    }
    blobHashesInText(carry, refs);
  }
  return refs;
}

/**
 * Removes the blobs no log references (content-addressed files named by their sha256), and
 * temp files that a crash left behind. Only names that are sha256 hex are ever touched.
 */
export async function collectBlobGarbage(options: BlobGarbageOptions): Promise<BlobGarbageReport> {
  const minAgeMs = options.minAgeMs ?? 60 * 60 * 1000;
  const dryRun = options.dryRun ?? false;
  const report: BlobGarbageReport = {
    blobDir: options.blobDir,
    referenced: 0,
    kept: 0,
    keptBytes: 0,
    removed: [],
    removedBytes: 0,
    tooYoung: 0,
    dryRun,
  };
  let names: string[];
  try {
    names = await readdir(options.blobDir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return report;
    throw error;
  }
  const refs = await referencedBlobs(options.logs);
  report.referenced = refs.size;
  const now = Date.now();
  for (const name of names) {
    // A writer's temp file, or a blob a gc interrupted by a crash had set aside.
    const leftover = /^\.([0-9a-f]{64})\.[0-9a-f-]+\.(tmp|gc)$/.exec(name);
    if (!isBlobHash(name) && !leftover) continue;
    const hash = leftover ? (leftover[1] as string) : name;
    const file = path.join(options.blobDir, name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) continue;
    if (refs.has(hash) && (!leftover || leftover[2] === 'gc')) {
      if (leftover && !dryRun) await rename(file, path.join(options.blobDir, hash));
      report.kept++;
      report.keptBytes += info.size;
      continue;
    }
    if (now - info.mtimeMs < minAgeMs) {
      report.tooYoung++;
      report.kept++;
      report.keptBytes += info.size;
      continue;
    }
    if (!dryRun) {
      const removed = leftover
        ? await unlink(file).then(
            () => true,
            (error) => errorCode(error) === 'ENOENT',
          )
        : await removeUnlessTouched(file, info.mtimeMs);
      if (!removed) {
        report.tooYoung++; // a live writer refreshed it meanwhile
        report.kept++;
        report.keptBytes += info.size;
        continue;
      }
    }
    report.removed.push({ hash, bytes: info.size });
    report.removedBytes += info.size;
  }
  return report;
}

/**
 * Removes a blob unless a writer refreshed it since gc saw `seenMtimeMs`; true when removed (or
 * already gone). The blob is first renamed aside, then its mtime looked at again: a writer's
 * refresh either happened before the rename (seen here, and the blob is put back) or after it
 * (the writer finds it missing and writes it again). Either way its line never points at nothing.
 */
export async function removeUnlessTouched(file: string, seenMtimeMs: number): Promise<boolean> {
  const aside = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.gc`);
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return true;
    throw error;
  }
  const info = await stat(aside);
  if (info.mtimeMs !== seenMtimeMs) {
    // Same name, same content: even if the writer wrote it again meanwhile, this is its twin.
    await rename(aside, file);
    return false;
  }
  await unlink(aside);
  return true;
}

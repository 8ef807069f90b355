import { createReadStream } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../file-operations.js';
import { HASH, refsInText } from './blob-store.js';

export interface BlobGarbageOptions {
  /** The blob folder. */
  blobDir: string;
  /** Every log that may reference blobs in it (all the logs of a store). */
  logs: readonly string[];
  /** Report only; remove nothing. */
  dryRun?: boolean;
  /**
   * Blobs younger than this are kept even when unreferenced (default one hour): a live writer
   * makes a blob durable before the line that points at it.
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
        refsInText(cut === -1 ? '' : text.slice(0, cut), refs);
        carry = cut === -1 ? text : text.slice(cut + 1);
      }
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue;
      throw error;
    }
    refsInText(carry, refs);
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
    const tempOf = /^\.([0-9a-f]{64})\.[0-9a-f-]+\.tmp$/.exec(name);
    if (!HASH.test(name) && !tempOf) continue;
    const file = path.join(options.blobDir, name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) continue;
    if (HASH.test(name) && refs.has(name)) {
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
    report.removed.push({ hash: tempOf ? (tempOf[1] as string) : name, bytes: info.size });
    report.removedBytes += info.size;
    if (!dryRun) await unlink(file).catch(() => {});
  }
  return report;
}

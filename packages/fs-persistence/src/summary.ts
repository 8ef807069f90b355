import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  errorCode,
  type FileOperations,
  nodeFileOperations,
  syncDirectory,
  writeFully,
} from './file-operations.js';

/** The summary file of a log: `<log>.summary.json`, beside it (beside the link, for a symlink). */
export function summaryPathOf(logFile: string): string {
  return `${logFile}.summary.json`;
}

const FORMAT = 'agent-records-summary';
const VERSION = 1;

/**
 * What the writer keeps beside each log so that listing sessions never reads logs: a cache
 * checked against the log's `stat` (its `bytes` and `ino` must match the file for `records` to
 * count), except for `title`, which exists only here.
 */
export interface LogSummary {
  /** When the log was started (epoch ms): its first record's `created_at`, else its first write. */
  readonly createdAt: number;
  /** When this summary was written (epoch ms): after the last batch the writer wrote. */
  readonly updatedAt: number;
  /** Lines in the log (each a record) when it was `bytes` long; absent when not known yet. */
  readonly records?: number;
  /** The log's size when this summary was written. */
  readonly bytes: number;
  /** The host-set title (`setTitle`). */
  readonly title?: string;
  /** The log's identity (inode and first line), as positions name it; '' for an empty log. */
  readonly log: string;
  /** The log's inode, which `list()` compares with `stat` (cheaper than the identity). */
  readonly ino: number;
}

/** The summary as JSON text (self-describing: `format` and `version` first). */
export function encodeSummary(summary: LogSummary): string {
  return `${JSON.stringify({ format: FORMAT, version: VERSION, ...summary })}\n`;
}

/** A summary file's text as a summary, or null when it is not one (torn, another format). */
export function decodeSummary(text: string): LogSummary | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (
    v.format !== FORMAT ||
    v.version !== VERSION ||
    !Number.isFinite(v.createdAt) ||
    !Number.isFinite(v.updatedAt) ||
    !isCount(v.bytes) ||
    !isCount(v.ino) ||
    typeof v.log !== 'string' ||
    (v.records !== undefined && !isCount(v.records)) ||
    (v.title !== undefined && typeof v.title !== 'string')
  ) {
    return null;
  }
  return {
    createdAt: v.createdAt as number,
    updatedAt: v.updatedAt as number,
    ...(v.records !== undefined && { records: v.records as number }),
    bytes: v.bytes as number,
    ...(v.title !== undefined && { title: v.title as string }),
    log: v.log as string,
    ino: v.ino as number,
  };
}

/**
 * The summary kept beside a log (`<log>.summary.json`), or null when there is none or it cannot
 * be read as one. It is a cache: check `bytes` and `ino` against the log's `stat` before
 * trusting `records`.
 */
export async function readLogSummary(logFile: string): Promise<LogSummary | null> {
  try {
    return decodeSummary(await readFile(summaryPathOf(logFile), 'utf8'));
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'EISDIR') return null;
    throw error;
  }
}

/**
 * {@link readLogSummary} with synchronous calls, for `list()`: thousands of tiny reads cost
 * far less this way than through the thread pool (the caller yields between slices of them).
 * `buffer` is reused across calls; a summary longer than it (a long title) is read whole.
 */
export function readLogSummarySync(logFile: string, buffer: Buffer): LogSummary | null {
  const target = summaryPathOf(logFile);
  let fd: number;
  try {
    fd = openSync(target, 'r');
  } catch {
    return null;
  }
  try {
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text =
      read < buffer.length ? buffer.toString('utf8', 0, read) : readFileSync(target, 'utf8');
    return decodeSummary(text);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the summary file atomically (temp file beside it, rename). `durable` adds the fsyncs
 * (file before the rename, folder after): a title exists only here, so it must survive a crash;
 * the counts are a cache, so the writer's routine updates skip them.
 */
export async function writeLogSummary(
  ops: FileOperations,
  logFile: string,
  summary: LogSummary,
  options: { durable: boolean; fileMode: number },
): Promise<void> {
  const target = summaryPathOf(logFile);
  const dir = path.dirname(target);
  const temp = path.join(dir, `.${path.basename(logFile)}.${randomUUID()}.summary.tmp`);
  const fd = await ops.open(temp, 'wx', options.fileMode);
  let closed = false;
  try {
    await writeFully(ops, fd, Buffer.from(encodeSummary(summary), 'utf8'), 0);
    if (options.durable) await ops.fsync(fd);
    closed = true;
    await ops.close(fd);
    await ops.rename(temp, target);
  } catch (error) {
    if (!closed) await ops.close(fd).catch(() => {});
    await ops.unlink(temp).catch(() => {});
    throw error;
  }
  if (options.durable) await syncDirectory(ops, dir);
}

/** Bytes of a log's start read to find its first record's `created_at`. */
const HEAD_BYTES = 64 * 1024;

/**
 * The `created_at` (epoch ms) of the first record of a log, when it has one (a metadata record),
 * from at most its first 64 KiB; undefined otherwise.
 */
export async function createdAtInHead(
  logFile: string,
  ops: FileOperations = nodeFileOperations,
): Promise<number | undefined> {
  let fd: number;
  try {
    fd = await ops.open(logFile, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    const read = await ops.read(fd, head, 0, HEAD_BYTES, 0);
    return createdAtOfFirstLine(head.subarray(0, read));
  } catch {
    return undefined;
  } finally {
    await ops.close(fd).catch(() => {});
  }
}

/** The `created_at` of the record on the first line of `head`, if it is complete and has one. */
export function createdAtOfFirstLine(head: Buffer): number | undefined {
  const newline = head.indexOf(0x0a);
  let text = head.subarray(0, newline === -1 ? head.length : newline).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    const value = JSON.parse(text) as { created_at?: unknown };
    return typeof value.created_at === 'number' && Number.isFinite(value.created_at)
      ? value.created_at
      : undefined;
  } catch {
    return undefined;
  }
}

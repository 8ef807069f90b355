import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { ErrorReporter } from '@agent-records/backend-kit';
import { RecordsWriteError } from '@agent-records/types';
import { errorCode, type FileOperations, syncDirectory, writeFully } from './file-operations.js';
import { inspectTail } from './tail.js';

/** Where the writer may append: the durable end, and whether a newline must come first. */
export interface RecoveredEnd {
  durableSize: number;
  /** The last line is a complete record without its newline (another writer's style). */
  needsNewline: boolean;
}

/**
 * What a crash can leave at the end of a log, put right before this process first appends: a
 * last line that is complete JSON only lacks its newline (the next append adds it); a torn one
 * is cut off, its bytes kept in a side file first (reported as a `warning` to `errors`). Returns the end to
 * append at.
 */
export async function recoverTail(
  ops: FileOperations,
  fd: number,
  file: string,
  fileMode: number,
  errors: ErrorReporter,
): Promise<RecoveredEnd> {
  const tail = await inspectTail(ops, fd);
  if (tail.tail.length === 0) return { durableSize: tail.size, needsNewline: false };
  if (tail.tailIsComplete) return { durableSize: tail.size, needsNewline: true };
  await keepTornTail(ops, file, fileMode, tail.tail);
  await ops.ftruncate(fd, tail.lastLineStart);
  await ops.fdatasync(fd);
  errors.report(
    new RecordsWriteError(
      `${file} ended with a torn line of ${tail.tail.length} bytes at offset ` +
        `${tail.lastLineStart} (an interrupted write); it was cut off and kept in a side file.`,
    ),
    { kind: 'warning' },
  );
  return { durableSize: tail.lastLineStart, needsNewline: false };
}

/** Keeps the bytes of a torn last line in `<log>.torn-<time>-<id>`, never just discarding them. */
async function keepTornTail(
  ops: FileOperations,
  file: string,
  fileMode: number,
  bytes: Buffer,
): Promise<void> {
  const side = `${file}.torn-${Date.now()}-${randomUUID().slice(0, 8)}`;
  const fd = await ops.open(side, 'wx', fileMode);
  try {
    await writeFully(ops, fd, bytes, 0);
    await ops.fsync(fd);
  } finally {
    await ops.close(fd);
  }
  await syncDirectory(ops, path.dirname(file));
}

/** Temp files a crash may leave: a rewrite's, a snapshot's, a summary's. */
const TEMP_SUFFIXES = ['.rewrite.tmp', '.snapshot.tmp', '.summary.tmp'];

/**
 * Removes the temp files of rewrites, snapshots and summary updates a crash interrupted
 * (`.<log>.<id>.rewrite.tmp`, `.snapshot.tmp`, `.summary.tmp`), beside the log and, when the log
 * is a symlink, beside its target, where rewrites write them. Only the lock holder may: another
 * writer's may be in progress otherwise.
 */
export async function removeAbandonedRewrites(ops: FileOperations, file: string): Promise<void> {
  await removeRewriteTemps(ops, file);
  const target = await realLogPath(ops, file);
  if (target !== file) await removeRewriteTemps(ops, target);
}

async function removeRewriteTemps(ops: FileOperations, log: string): Promise<void> {
  const dir = path.dirname(log);
  const prefix = `.${path.basename(log)}.`;
  const names = await ops.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && TEMP_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
      await ops.unlink(path.join(dir, name)).catch(() => {});
    }
  }
}

/** The file the log path names, symlinks resolved; the path itself while it does not exist. */
export async function realLogPath(ops: FileOperations, file: string): Promise<string> {
  try {
    return await ops.realpath(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return file;
    throw error;
  }
}

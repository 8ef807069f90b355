import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { countLinesIn } from './line-reader.js';
import { logIdentity } from './position.js';
import { createdAtInHead, type LogSummary, readLogSummary, writeLogSummary } from './summary.js';

export interface RefreshLogSummaryOptions {
  /** Mode of the summary file if it is created (default 0o600, as the writer's). */
  fileMode?: number;
  /** The file-system seam (default the real `node:fs`). */
  fileOperations?: FileOperations;
}

/**
 * Recounts a log's records (its lines; a last line without its newline counts) and rewrites its
 * summary file durably for the log as it is now (size, inode, identity), keeping the title and
 * `createdAt` of the summary it replaces (else `createdAt` from the first record, else now).
 * For `repair` and tools that changed a log without the writer: call it while no writer holds
 * the log (with its lock held), or a live writer's next summary write replaces it. Returns the
 * summary written, or null when the log does not exist (any summary is left as it is).
 */
export async function refreshLogSummary(
  logFile: string,
  options: RefreshLogSummaryOptions = {},
): Promise<LogSummary | null> {
  const ops = options.fileOperations ?? nodeFileOperations;
  let fd: number;
  try {
    fd = await ops.open(logFile, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let summary: LogSummary;
  try {
    const { size, ino } = await ops.fstat(fd);
    const records = ((await countLinesIn(ops, fd, 0, size)) as { lines: number }).lines;
    const log = size === 0 ? '' : await logIdentity(ops, fd, size);
    const previous = await readLogSummary(logFile);
    const createdAt =
      (previous && previous.bytes > 0 ? previous.createdAt : undefined) ??
      (await createdAtInHead(logFile, ops)) ??
      previous?.createdAt ??
      Date.now();
    summary = {
      createdAt,
      updatedAt: Date.now(),
      records,
      bytes: size,
      ...(previous?.title !== undefined && { title: previous.title }),
      log,
      ino: ino ?? 0,
    };
  } finally {
    await ops.close(fd).catch(() => {});
  }
  // Durable: the title it carries over exists nowhere else.
  await writeLogSummary(ops, logFile, summary, {
    durable: true,
    fileMode: options.fileMode ?? 0o600,
  });
  return summary;
}

import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type BlobGarbageReport,
  collectBlobGarbage,
  logFilesIn,
} from '@agent-records/fs-persistence';
import { parseDuration } from '../duration.js';
import { CliError, EXIT, fileError } from '../errors.js';
import { count, formatBytes } from '../format.js';
import { type CliIo, runGuarded } from '../io.js';

/** Re-exported from its own module, where `cat --since` finds it too. */
export { parseDuration };

/**
 * Blob garbage collection for a store folder (or the folder of one log): every log file there
 * counts as a reference holder (dotfile logs, kept torn tails and rewrites in progress too), so
 * a blob shared by two sessions stays.
 */
export async function gcBlobs(
  target: string,
  options: { blobDir?: string; minAgeMs?: number; dryRun?: boolean },
): Promise<BlobGarbageReport & { logs: number }> {
  let root: string;
  try {
    const info = await stat(target);
    if (!info.isDirectory() && !info.isFile()) {
      throw new CliError(
        `${target}: is neither a log file nor a store folder. Give the folder holding the logs.`,
        EXIT.io,
      );
    }
    root = info.isDirectory() ? target : path.dirname(target);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw fileError(target, error);
  }
  const logs = await logFilesIn(root);
  const blobDir = options.blobDir ?? path.join(root, 'blobs');
  const report = await collectBlobGarbage({
    blobDir,
    logs,
    dryRun: options.dryRun,
    minAgeMs: options.minAgeMs,
  });
  return { ...report, logs: logs.length };
}

/** `agent-records blobs gc`. */
export async function runBlobsGc(
  args: { target: string; blobs?: string; minAge: string; dryRun?: boolean },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const report = await gcBlobs(args.target, {
      blobDir: args.blobs,
      minAgeMs: parseDuration(args.minAge),
      dryRun: args.dryRun,
    });
    const verb = report.dryRun ? 'would remove' : 'removed';
    const lines = report.removed.map((blob) => `${verb} ${blob.hash} (${formatBytes(blob.bytes)})`);
    lines.push(
      `${report.blobDir}: ${count(report.referenced, 'blob')} referenced by ${count(report.logs, 'log')}; ${verb} ` +
        `${report.removed.length} (${formatBytes(report.removedBytes)}); kept ${report.kept} (${formatBytes(report.keptBytes)})` +
        (report.tooYoung > 0
          ? `, ${report.tooYoung} unreferenced but younger than ${args.minAge}`
          : ''),
    );
    io.out.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  });
}

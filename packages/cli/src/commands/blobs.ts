import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type BlobGarbageReport, collectBlobGarbage } from '@agent-records/fs-persistence';
import { CliError, EXIT, fileError } from '../errors.js';

/** `90s`, `15m`, `2h`, `3d` or plain milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (!match) {
    throw new CliError(
      `${JSON.stringify(value)} is not a duration: use 90s, 15m, 2h or 3d.`,
      EXIT.usage,
    );
  }
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[(match[2] ?? 'ms') as 'ms'];
  return Number(match[1]) * unit;
}

/**
 * Blob garbage collection for a store folder (or the folder of one log): every `*.jsonl` there
 * counts as a reference holder, so a blob shared by two sessions stays.
 */
export async function gcBlobs(
  target: string,
  options: { blobDir?: string; minAgeMs?: number; dryRun?: boolean },
): Promise<BlobGarbageReport & { logs: number }> {
  let root: string;
  try {
    root = (await stat(target)).isDirectory() ? target : path.dirname(target);
  } catch (error) {
    throw fileError(target, error);
  }
  const logs = (await readdir(root))
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => path.join(root, name));
  const blobDir = options.blobDir ?? path.join(root, 'blobs');
  const report = await collectBlobGarbage({
    blobDir,
    logs,
    dryRun: options.dryRun,
    minAgeMs: options.minAgeMs,
  });
  return { ...report, logs: logs.length };
}

import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type BlobGarbageReport,
  collectBlobGarbage,
  logFilesIn,
} from '@agent-records/fs-persistence';
import { CliError, EXIT, fileError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * The one duration parser of the CLI, in milliseconds: `90s`, `10m`, `1h30m`, `2d`, `250ms`, or
 * a bare number of seconds (`3600` is an hour, never 3.6 seconds).
 */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * UNIT_MS.s;
  let total = 0;
  let at = 0;
  while (text.length > 0 && at < text.length) {
    DURATION_PART.lastIndex = at;
    const part = DURATION_PART.exec(text);
    if (!part) break;
    total += Number(part[1]) * UNIT_MS[part[2] as keyof typeof UNIT_MS];
    at = DURATION_PART.lastIndex;
  }
  if (text.length === 0 || at < text.length) {
    throw new CliError(
      `${JSON.stringify(value)} is not a duration: use seconds (3600) or units such as 30s, ` +
        '10m, 1h30m or 2d.',
      EXIT.usage,
    );
  }
  return total;
}

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
    root = (await stat(target)).isDirectory() ? target : path.dirname(target);
  } catch (error) {
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

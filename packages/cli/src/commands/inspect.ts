import { stat } from 'node:fs/promises';
import path from 'node:path';
import { collectBlobRefs, parseBlobRef } from '@agent-records/backend-kit';
import {
  blobPath,
  readLockHolder,
  readLogSummary,
  summaryPathOf,
} from '@agent-records/fs-persistence';
import { EXIT, fileError } from '../errors.js';
import type { CliIo } from '../io.js';
import { runGuarded } from '../io.js';
import { assertLogFile, STDIN } from '../log-file.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import { SnapshotCheck, type SnapshotReport, type UnreadableSnapshot } from '../snapshot-check.js';
import { terminalJsonReport } from '../terminal-text.js';
import { type WriteInProgress, writeInProgress } from '../write-in-progress.js';
import { printInspect } from './inspect-print.js';

export interface LogProblem {
  line: number;
  offset: number;
  problem: string;
}

export interface InspectReport {
  file: string;
  size: number;
  protocolVersion: string | null;
  createdAt: number | null;
  firstTime: number | null;
  lastTime: number | null;
  records: number;
  segments: number;
  byType: Record<string, { count: number; bytes: number }>;
  /** Problem lines (the first 100), torn tail included. */
  problems: LogProblem[];
  problemCount: number;
  tornTail: { offset: number; bytes: number } | null;
  /**
   * The last line, unfinished, of a log whose lock a live writer holds: its write in progress,
   * neither a torn tail nor a problem (see `writeInProgress`).
   */
  writeInProgress: WriteInProgress | null;
  lock: { pid: number; host: string; alive: boolean } | null;
  /** Blobs the log references: how many, how many are in the blob folder, their bytes. */
  blobs: {
    dir: string;
    /** False when the folder looked in does not exist. */
    dirExists: boolean;
    referenced: number;
    present: number;
    missing: number;
    bytes: number;
    /** Set when the folder is probably the wrong one: what was looked at and what to do. */
    hint?: string;
  } | null;
  /**
   * The snapshot kept beside the log (fast resume) and whether it matches the log; `null`
   * when there is none (or for standard input).
   */
  snapshot: SnapshotReport | UnreadableSnapshot | null;
  /**
   * The session summary the writer keeps beside the log (what `sessions` lists); `null` when
   * there is none (or for standard input).
   */
  summary: {
    file: string;
    title?: string;
    createdAt: number;
    /** When the writer last wrote it. */
    updatedAt: number;
    records?: number;
    /** The log's size when it was written. */
    bytes: number;
    /** Whether it describes the log as it is (same file, same size). */
    current: boolean;
  } | null;
}

/**
 * Every blob hash the record references, by the kit's one blob-ref rule. Walks the parsed record
 * rather than matching the text, so a host string that itself starts with `blobref:` (stored
 * escaped as `blobref:~...`) or a ref quoted inside a longer string is never taken for one.
 */
function collectRefs(record: unknown, into: Set<string>): void {
  const refs = new Set<string>();
  collectBlobRefs(record, refs);
  for (const ref of refs) {
    const parsed = parseBlobRef(ref);
    if (parsed.kind === 'ref') into.add(parsed.hash);
  }
}

/** Streams a log once and describes it. `-` reads standard input. */
export async function inspectLog(
  file: string,
  options: { progress?: boolean; blobDir?: string; io?: Pick<CliIo, 'err' | 'stdin'> } = {},
): Promise<InspectReport> {
  const info = await assertLogFile(file, { allowStdin: true });
  // Read first: the scan counts the records before its position.
  const snapshot = info ? await SnapshotCheck.load(file) : null;
  const report: InspectReport = {
    file,
    size: info?.size ?? 0,
    protocolVersion: null,
    createdAt: null,
    firstTime: null,
    lastTime: null,
    records: 0,
    segments: 0,
    byType: {},
    problems: [],
    problemCount: 0,
    tornTail: null,
    writeInProgress: null,
    lock: null,
    blobs: null,
    snapshot: null,
    summary: null,
  };
  const refs = new Set<string>();
  const progress =
    options.progress === false || !info
      ? null
      : progressFor(info.size, 'inspect', options.io?.err ?? process.stderr);
  try {
    const lines = scanLines(file, { onProgress: progress?.update, stdin: options.io?.stdin });
    for await (const line of lines) {
      snapshot?.see(line);
      if (!info) report.size += line.bytes + (line.complete ? 1 : 0);
      if (line.problem) {
        report.writeInProgress = await writeInProgress(file, line);
        if (report.writeInProgress) continue;
        report.problemCount++;
        if (report.problems.length < 100) {
          report.problems.push({ line: line.line, offset: line.offset, problem: line.problem });
        }
        if (!line.complete) report.tornTail = { offset: line.offset, bytes: line.bytes };
        continue;
      }
      const record = line.record;
      if (!record) continue;
      report.records++;
      if (line.raw.includes('"blobref:')) collectRefs(record, refs);
      let entry = report.byType[record.type];
      if (!entry) {
        entry = { count: 0, bytes: 0 };
        report.byType[record.type] = entry;
      }
      entry.count++;
      entry.bytes += line.bytes + (line.complete ? 1 : 0);
      if (record.type === 'metadata') {
        report.segments++;
        const meta = record as { protocol_version?: unknown; created_at?: unknown };
        if (report.protocolVersion === null && typeof meta.protocol_version === 'string') {
          report.protocolVersion = meta.protocol_version;
          if (typeof meta.created_at === 'number') report.createdAt = meta.created_at;
        }
      }
      if (typeof record.time === 'number') {
        report.firstTime =
          report.firstTime === null ? record.time : Math.min(report.firstTime, record.time);
        report.lastTime =
          report.lastTime === null ? record.time : Math.max(report.lastTime, record.time);
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress?.done();
  }
  const base = file === STDIN ? process.cwd() : path.dirname(file);
  const blobDir = options.blobDir ?? path.join(base, 'blobs');
  if (refs.size > 0 || options.blobDir) report.blobs = await checkBlobs(blobDir, refs, options);
  if (file !== STDIN) {
    const holder = await readLockHolder(`${file}.lock`).catch(() => null);
    if (holder) report.lock = { pid: holder.pid, host: holder.host, alive: holder.alive };
    report.snapshot = (await snapshot?.report()) ?? null;
    report.summary = await summaryOf(file, info);
  }
  return report;
}

/** The summary beside the log, checked against the log's stat as `sessions` does. */
async function summaryOf(
  file: string,
  info: { size: number; ino: number } | null,
): Promise<InspectReport['summary']> {
  const summary = await readLogSummary(file).catch(() => null);
  if (!summary) return null;
  return {
    file: summaryPathOf(file),
    ...(summary.title !== undefined && { title: summary.title }),
    createdAt: summary.createdAt,
    updatedAt: summary.updatedAt,
    ...(summary.records !== undefined && { records: summary.records }),
    bytes: summary.bytes,
    current: info !== null && summary.bytes === info.size && summary.ino === info.ino,
  };
}

async function checkBlobs(
  dir: string,
  refs: Set<string>,
  options: { blobDir?: string },
): Promise<NonNullable<InspectReport['blobs']>> {
  const folder = await stat(dir).catch(() => null);
  const blobs: NonNullable<InspectReport['blobs']> = {
    dir,
    dirExists: folder?.isDirectory() ?? false,
    referenced: refs.size,
    present: 0,
    missing: 0,
    bytes: 0,
  };
  for (const hash of refs) {
    const info = blobs.dirExists
      ? await stat(blobPath(dir, hash) as string).catch(() => null)
      : null;
    if (info) {
      blobs.present++;
      blobs.bytes += info.size;
    } else blobs.missing++;
  }
  // Every blob missing usually means the wrong folder, not a store that lost its blobs.
  if (blobs.missing > 0 && blobs.present === 0) {
    const why = blobs.dirExists
      ? `holds none of the ${blobs.referenced} referenced blobs`
      : 'does not exist';
    const fix = options.blobDir
      ? 'check the folder given to --blobs'
      : 'if the blobs are kept elsewhere, give their folder with --blobs DIR';
    blobs.hint = `looked in ${path.resolve(dir)}, which ${why}: the folder may be wrong; ${fix}`;
  }
  return blobs;
}

/**
 * `agent-records inspect`: prints the report (or JSON). Exit 1 when the log has problem lines
 * or references blobs that are not in the blob folder.
 */
export async function runInspect(
  args: { log: string; json?: boolean; blobs?: string },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const report = await inspectLog(args.log, { blobDir: args.blobs, io });
    if (args.json) io.out.write(`${terminalJsonReport(report)}\n`);
    else printInspect(report, io);
    // The human view prints the hint in place; JSON readers get it on stderr as well.
    if (args.json && report.blobs?.hint) io.err.write(`agent-records: ${report.blobs.hint}\n`);
    return report.problemCount > 0 || (report.blobs?.missing ?? 0) > 0 ? EXIT.problems : EXIT.ok;
  });
}

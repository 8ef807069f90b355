import { stat } from 'node:fs/promises';
import path from 'node:path';
import { blobPath, readLockHolder } from '@agent-records/fs-persistence';
import { fileError } from '../errors.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';

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
  lock: { pid: number; host: string; alive: boolean } | null;
  /** Blobs the log references: how many, how many are in the blob folder, their bytes. */
  blobs: {
    dir: string;
    referenced: number;
    present: number;
    missing: number;
    bytes: number;
  } | null;
}

/** Streams a log once and describes it. */
export async function inspectLog(
  file: string,
  options: { progress?: boolean; blobDir?: string } = {},
): Promise<InspectReport> {
  let size: number;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = info.size;
  } catch (error) {
    throw fileError(file, error);
  }
  const report: InspectReport = {
    file,
    size,
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
    lock: null,
    blobs: null,
  };
  const refs = new Set<string>();
  const progress = options.progress === false ? null : progressFor(file, 'inspect');
  try {
    for await (const line of scanLines(file, { onProgress: progress?.update })) {
      if (line.problem) {
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
      if (line.raw.includes('"blobref:')) {
        for (const match of line.raw
          .toString('utf8')
          .matchAll(/"blobref:[^;"]*;([0-9a-f]{64})"/g)) {
          refs.add(match[1] as string);
        }
      }
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
  const blobDir = options.blobDir ?? path.join(path.dirname(file), 'blobs');
  if (refs.size > 0 || options.blobDir) {
    const blobs = { dir: blobDir, referenced: refs.size, present: 0, missing: 0, bytes: 0 };
    for (const hash of refs) {
      const info = await stat(blobPath(blobDir, hash) as string).catch(() => null);
      if (info) {
        blobs.present++;
        blobs.bytes += info.size;
      } else blobs.missing++;
    }
    report.blobs = blobs;
  }
  const holder = await readLockHolder(`${file}.lock`).catch(() => null);
  if (holder) report.lock = { pid: holder.pid, host: holder.host, alive: holder.alive };
  return report;
}

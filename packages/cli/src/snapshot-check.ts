import {
  FileSystemAgentRecordPersistence,
  logPositionProblem,
  readSnapshotFile,
  snapshotPathOf,
} from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope, RecordsPosition } from '@agent-records/types';

/** What a log's stored snapshot says about itself, and whether it matches the log. */
export interface SnapshotReport {
  /** The snapshot file. */
  file: string;
  /** Where the records it covers end (the backend's position, as stored). */
  position: RecordsPosition;
  /** Records (metadata included) the snapshot says it covers. */
  records: number;
  /** When it was stored, epoch ms. */
  writtenAt: number;
  /** Size of its data in bytes. */
  bytes: number;
  /**
   * Whether it matches the log: its position is still a place in the log and the log holds
   * exactly `records` records before it. `null` when only the position could be checked (the
   * log has problem lines).
   */
  matches: boolean | null;
  /** Why it does not match, or why it was not fully checked. */
  problem?: string;
}

/** A snapshot file that cannot be read as one (torn, damaged, another format version). */
export interface UnreadableSnapshot {
  file: string;
  unreadable: string;
}

/**
 * The snapshot beside a log, checked against it as a replay would: its position must still be a
 * place in the log (the fs backend's own check: not rewritten, truncated, repaired or replaced
 * since), and the log must hold the records the snapshot says it covers before that position
 * (`recordsInLog` minus the records `readFrom(position)` yields). Pass `recordsInLog: null` when
 * the log has problem lines: only the position is checked then. Null when there is no snapshot.
 */
export async function checkSnapshot(
  log: string,
  recordsInLog: number | null,
): Promise<SnapshotReport | UnreadableSnapshot | null> {
  const file = snapshotPathOf(log);
  try {
    return await check(log, file, recordsInLog);
  } catch (error) {
    // A log that cannot be read from the position (a corrupt line after it, permissions): the
    // log's own problems are reported by the command; the snapshot is simply not usable.
    return { file, unreadable: `it could not be checked (${(error as Error).message})` };
  }
}

async function check(
  log: string,
  file: string,
  recordsInLog: number | null,
): Promise<SnapshotReport | UnreadableSnapshot | null> {
  const stored = await readSnapshotFile(log);
  if (stored === null) return null;
  if ('problem' in stored) return { file, unreadable: stored.problem };
  const report: SnapshotReport = {
    file,
    position: stored.position,
    records: stored.records,
    writtenAt: stored.writtenAt,
    bytes: stored.bytes,
    matches: null,
  };
  const positionProblem = await logPositionProblem(log, stored.position);
  if (positionProblem !== null) {
    report.matches = false;
    report.problem = positionProblem;
    return report;
  }
  if (recordsInLog === null) {
    report.problem =
      'its position matches; the records before it were not counted (the log has problem lines)';
    return report;
  }
  const after = await recordsAfter(log, stored.position);
  const before = recordsInLog - after;
  report.matches = before === stored.records;
  if (!report.matches) {
    report.problem = `it says it covers ${stored.records} records, but the log holds ${before} before its position`;
  }
  return report;
}

/** Records the log holds after `position`, read through the backend (`readFrom`). */
async function recordsAfter(log: string, position: RecordsPosition): Promise<number> {
  // Reading takes no lock and writes nothing.
  const persistence = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(log, {
    onError: () => {},
  });
  try {
    let after = 0;
    for await (const batch of persistence.readFrom(position)) after += batch.records.length;
    return after;
  } finally {
    await persistence.close().catch(() => {});
  }
}

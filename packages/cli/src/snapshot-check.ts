import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsPosition,
  RecordsPositionError,
} from '@agent-records/types';

/** What a log's stored snapshot says about itself, and whether it matches the log. */
export interface SnapshotReport {
  /** Where the records it covers end (the backend's position, as stored). */
  position: RecordsPosition;
  /** Records (metadata included) the snapshot says it covers. */
  records: number;
  /** When it was stored, epoch ms. */
  writtenAt: number;
  /** Size of its data in bytes. */
  bytes: number;
  /**
   * Whether it matches the log: reading from its position succeeds and the log holds exactly
   * `records` records before it. `null` when it was not checked (the log has problems).
   */
  matches: boolean | null;
  /** Why it does not match, or why it was not checked. */
  problem?: string;
}

/** A snapshot the backend could not read (it reported why): there is one, but it is unusable. */
export interface UnreadableSnapshot {
  unreadable: string;
}

/**
 * The log's snapshot, checked against it: `readSnapshot`, then `readFrom(position)` (which
 * rejects with `RecordsPositionError` when the log was rewritten, truncated or replaced since),
 * counting the records after the position; the snapshot matches when `recordsInLog` minus those
 * equals the records it says it covers. Pass `recordsInLog: null` when the log has problem
 * lines: the count is then not known, and only the position is checked. Null when the log has
 * no snapshot, or its backend cannot keep one.
 */
export async function checkSnapshot(
  file: string,
  recordsInLog: number | null,
): Promise<SnapshotReport | UnreadableSnapshot | null> {
  const warnings: string[] = [];
  const persistence: AgentRecordPersistence<AgentRecordEnvelope> =
    new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
      lock: false,
      onError: (error, info) => {
        if (info.kind === 'warning') warnings.push(error.message);
      },
    });
  try {
    if (!persistence.readSnapshot || !persistence.readFrom) return null;
    const stored = await persistence.readSnapshot();
    if (!stored) return warnings.length > 0 ? { unreadable: warnings.join('; ') } : null;
    const report: SnapshotReport = {
      position: stored.position,
      records: stored.records,
      writtenAt: stored.writtenAt,
      bytes: stored.bytes,
      matches: null,
    };
    let after = 0;
    try {
      for await (const batch of persistence.readFrom(stored.position)) {
        if (batch.end !== null) after += batch.records.length;
      }
    } catch (error) {
      // A position that no longer matches is the answer; anything else (a corrupt line after
      // the position) leaves the question open.
      const mismatch = (error as { code?: unknown })?.code === RecordsPositionError.CODE;
      report.matches = mismatch ? false : null;
      report.problem = mismatch
        ? (error as Error).message
        : `it could not be checked: ${(error as Error).message}`;
      return report;
    }
    if (recordsInLog === null) {
      report.problem = 'the log has problem lines: only its position was checked';
      return report;
    }
    const before = recordsInLog - after;
    report.matches = before === stored.records;
    if (!report.matches) {
      report.problem = `it says it covers ${stored.records} records, but the log holds ${before} before its position`;
    }
    return report;
  } finally {
    await persistence.close().catch(() => {});
  }
}

import {
  logPositionProblem,
  readSnapshotFile,
  snapshotPathOf,
} from '@agent-records/fs-persistence';
import type { RecordsPosition, StoredSnapshot } from '@agent-records/types';
import type { ScannedLine } from './scan.js';

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
   * log has problem lines before it).
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
 * The snapshot beside a log, checked against it as a replay would. Loaded before the command
 * scans the log, so that the scan counts the records before the snapshot's position as it goes
 * ({@link see}): one read of the log, and a log a live writer appends to meanwhile is still
 * judged on the same bytes. Then {@link report}: the position must still be a place in the log
 * (the fs backend's own check, as `readFrom` makes it: not rewritten, truncated, repaired or
 * replaced since) and the records before it must be as many as the snapshot says it covers.
 */
export class SnapshotCheck {
  readonly #log: string;
  readonly #stored: StoredSnapshot | { problem: string } | null;
  /** The byte offset the snapshot ends at (the fs backend's positions name it). */
  readonly #offset: number | null;
  #recordsBefore = 0;
  #problemsBefore = 0;

  private constructor(log: string, stored: StoredSnapshot | { problem: string } | null) {
    this.#log = log;
    this.#stored = stored;
    const offset = stored && 'position' in stored ? stored.position.offset : undefined;
    this.#offset = typeof offset === 'number' ? offset : null;
  }

  /** Reads the snapshot beside `log` (none: a check that reports null). */
  static async load(log: string): Promise<SnapshotCheck> {
    const stored = await readSnapshotFile(log).catch((error: unknown) => ({
      problem: `it cannot be read (${(error as Error).message})`,
    }));
    return new SnapshotCheck(log, stored);
  }

  /** Counts one scanned line of the log, in order. */
  see(line: ScannedLine): void {
    // Positions are at line ends: a line that starts before the offset ends at or before it.
    if (this.#offset === null || line.offset >= this.#offset) return;
    if (line.problem) this.#problemsBefore++;
    else if (line.record) this.#recordsBefore++;
  }

  /** The verdict, once the scan is done; null when the log has no snapshot. */
  async report(): Promise<SnapshotReport | UnreadableSnapshot | null> {
    const stored = this.#stored;
    const file = snapshotPathOf(this.#log);
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
    const positionProblem = await logPositionProblem(this.#log, stored.position).catch(
      (error: unknown) => `it could not be checked (${(error as Error).message})`,
    );
    if (positionProblem !== null) {
      report.matches = false;
      report.problem = positionProblem;
    } else if (this.#offset === null) {
      report.problem =
        'its position matches; it names no byte offset, so its records were not counted';
    } else if (this.#problemsBefore > 0) {
      report.problem =
        'its position matches; the records before it were not counted (the log has problem lines before it)';
    } else {
      report.matches = this.#recordsBefore === stored.records;
      if (!report.matches) {
        report.problem = `it says it covers ${stored.records} records, but the log holds ${this.#recordsBefore} before its position`;
      }
    }
    return report;
  }
}

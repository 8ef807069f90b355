import {
  type ErrorReporter,
  PendingSnapshots,
  type ReadySnapshot,
} from '@agent-records/backend-kit';
import type { StoredSnapshot } from '@agent-records/types';
import type { FileOperations } from './file-operations.js';
import {
  commitSnapshotFile,
  prepareSnapshotFile,
  readSnapshotFile,
  removeSnapshotFile,
  snapshotPathOf,
} from './snapshot-file.js';

/**
 * The snapshot capability of the file backend: the kit's `PendingSnapshots` decides when a
 * snapshot is written (once the records it covers are durable, its data made, never holding up
 * later appends, the newest only, drops reported as warnings); this class stores it in
 * `<log>.snapshot` (temp file, fsync, rename, folder fsync: the previous one or this one, never
 * a torn one) and removes it before a rewrite replaces the log.
 */
export class SnapshotFiles {
  readonly pending: PendingSnapshots;
  readonly #file: string;
  readonly #ops: FileOperations;
  readonly #fileMode: number;
  readonly #errors: ErrorReporter;

  constructor(file: string, ops: FileOperations, fileMode: number, errors: ErrorReporter) {
    this.#file = file;
    this.#ops = ops;
    this.#fileMode = fileMode;
    this.#errors = errors;
    this.pending = new PendingSnapshots({
      errors,
      write: (ready) => this.#store(ready),
      log: `the log ${file}`,
    });
  }

  /** The stored snapshot, or null (none; or unreadable, reported as a warning). */
  async read(): Promise<StoredSnapshot | null> {
    const stored = await readSnapshotFile(this.#file);
    if (stored === null || !('problem' in stored)) return stored;
    this.#errors.report(
      new Error(
        `The snapshot ${snapshotPathOf(this.#file)} is not usable: ${stored.problem}. It is ` +
          'ignored (a resume replays the whole log); the next snapshot replaces it.',
      ),
      { kind: 'warning' },
    );
    return null;
  }

  /**
   * Before a rewrite renames the new log in: lets a snapshot write in progress finish (one of the
   * log being replaced), then removes the stored snapshot durably. A crash after this leaves the
   * old log without a snapshot or the new log without one, never a log beside a snapshot of
   * another.
   */
  async removeBeforeReplace(): Promise<void> {
    await this.pending.idle();
    await removeSnapshotFile(this.#file, this.#ops);
  }

  async #store(ready: ReadySnapshot): Promise<void> {
    const snapshot: StoredSnapshot = { ...ready, writtenAt: Date.now() };
    const temp = await prepareSnapshotFile(this.#ops, this.#file, snapshot, this.#fileMode);
    await commitSnapshotFile(this.#ops, this.#file, temp);
  }
}

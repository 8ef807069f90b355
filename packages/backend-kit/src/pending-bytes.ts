import { RecordsOverflowError } from '@agent-records/types';

// The one UTF-8 length rule lives in types (the session-id rule uses it too); re-exported here
// because backends count pending bytes with it.
export { utf8ByteLength } from '@agent-records/types';

/** The default bound on queued, unwritten record bytes: 64 MiB. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * The `maxPendingBytes` rule, in one place for every backend: queued, unwritten record data is
 * counted in UTF-8 bytes (what the store holds, not UTF-16 code units); an append that would go
 * over the bound is refused with {@link RecordsOverflowError}, thrown at once; and the records
 * refused that way are one report per burst: {@link takeOverflow} hands the next flush one
 * `RecordsOverflowError` saying how many were dropped, and nothing until more are dropped.
 * A rewrite does not count against the bound (it replaces the log; it is never "behind").
 */
export class PendingBytes {
  #pending = 0;
  #dropped = 0;
  #lastAttempt = 0;
  #lastMax = 0;

  /** Bytes queued and not yet written. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /** Records dropped by the bound since the last report was taken. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Throws {@link RecordsOverflowError} (and counts the record as dropped) when queuing `bytes`
   * more would go over `maxPendingBytes`; `otherPendingBytes` is queued data the backend keeps
   * elsewhere (a blob waiting for its write, say). Does not add `bytes`: call {@link add} once
   * the record is queued.
   */
  admit(bytes: number, maxPendingBytes: number, otherPendingBytes = 0): void {
    const total = this.#pending + otherPendingBytes + bytes;
    if (total <= maxPendingBytes) return;
    this.#dropped++;
    this.#lastAttempt = total;
    this.#lastMax = maxPendingBytes;
    throw new RecordsOverflowError(total, maxPendingBytes);
  }

  /**
   * Counts a record that another layer refused with `report` (the core, for its persistence's
   * `append`): it joins the current burst. Returns true when it starts one (report it then).
   */
  noteDropped(report: RecordsOverflowError): boolean {
    const starts = this.#dropped === 0;
    this.#dropped++;
    this.#lastAttempt = report.pendingBytes;
    this.#lastMax = report.maxPendingBytes;
    return starts;
  }

  add(bytes: number): void {
    this.#pending += bytes;
  }

  release(bytes: number): void {
    this.#pending = Math.max(0, this.#pending - bytes);
  }

  /** Forgets every queued byte (the backend dropped its whole queue). */
  clear(): void {
    this.#pending = 0;
  }

  /**
   * The report of the current burst of dropped records, once: an error naming how many were
   * dropped, or `null` when none were since the last call. The burst ends here.
   */
  takeOverflow(): RecordsOverflowError | null {
    if (this.#dropped === 0) return null;
    const report = new RecordsOverflowError(this.#lastAttempt, this.#lastMax, this.#dropped);
    this.#dropped = 0;
    return report;
  }

  /** Puts back a report taken by a flush that could not deliver it (it failed otherwise). */
  restoreOverflow(report: RecordsOverflowError): void {
    this.#dropped += report.dropped ?? 1;
    if (this.#lastMax === 0) {
      this.#lastAttempt = report.pendingBytes;
      this.#lastMax = report.maxPendingBytes;
    }
  }
}

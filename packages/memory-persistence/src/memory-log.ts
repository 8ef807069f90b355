import { utf8ByteLength } from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type RecordsBatch,
  type RecordsPosition,
  RecordsPositionError,
  type StoredSnapshot,
} from '@agent-records/types';

/**
 * One session's log as the in-memory backend keeps it: what a file and the files beside it are
 * to the file backend. Every persistence a store opens on the same id shares one.
 */
export interface MemoryLog<R> {
  /** The written records. A rewrite replaces the array (a reader of the old one is undisturbed). */
  records: R[];
  /** Bumped by each rewrite that lands: a position in an older log no longer matches. */
  generation: number;
  /** UTF-8 bytes of the log as JSON Lines (each record's line and its newline). */
  bytes: number;
  /** The newest stored snapshot. */
  snapshot: StoredSnapshot | null;
  /** The host-set title. */
  title: string | undefined;
  /** When the first write landed (epoch ms); undefined while nothing was written. */
  firstWrittenAt: number | undefined;
  /** When the last write (append or rewrite) landed (epoch ms). */
  updatedAt: number | undefined;
  /**
   * The persistence that writes it (its first write took the session; its `close()` gives it
   * back), as the file backend's lock: any other that writes meanwhile is refused for good.
   */
  writer: object | null;
  /** Removed from its store by `delete`: nothing may be written to it any more. */
  deleted: boolean;
}

/** A log holding `records` (already copied) and nothing beside them. */
export function memoryLogOf<R>(records: R[], lineBytes: number): MemoryLog<R> {
  const now = records.length > 0 ? Date.now() : undefined;
  return {
    records,
    generation: 0,
    bytes: lineBytes,
    snapshot: null,
    title: undefined,
    firstWrittenAt: now,
    updatedAt: now,
    writer: null,
    deleted: false,
  };
}

/** The size of one record's JSON line in the log, newline included. */
export function lineBytes(json: string): number {
  return utf8ByteLength(json) + 1;
}

/** The position after the log's last written record. */
export function endOf(log: MemoryLog<unknown>): RecordsPosition {
  return { index: log.records.length, generation: log.generation };
}

/** Records per batch of `readFrom`: one await per batch, memory independent of the log. */
const BATCH = 1000;

/**
 * The records of `log` after `position` (see `readFrom`), then `pending` (appended, or the log a
 * queued rewrite will leave, not written yet) in one batch with `end: null`. `rewritePending`:
 * a rewrite is queued, so no position in the current log will still hold once it lands.
 */
export async function* readLogFrom<R extends AgentRecordEnvelope>(
  log: MemoryLog<R>,
  position: RecordsPosition | null,
  pending: { rewritePending: boolean; records: R[] },
): AsyncGenerator<RecordsBatch<R>> {
  const records = log.records; // appends landing later are in `pending`, not read twice
  const end = records.length;
  const generation = log.generation;
  let from = 0;
  if (position !== null) {
    from = checkPosition(position, end, generation, pending.rewritePending);
  }
  for (let i = from; !pending.rewritePending && i < end; i += BATCH) {
    const upTo = Math.min(i + BATCH, end);
    const batch: R[] = [];
    for (let j = i; j < upTo; j++) batch.push(structuredClone(records[j] as R));
    yield { records: batch, end: { index: upTo, generation } };
  }
  if (pending.records.length > 0) yield { records: pending.records, end: null };
}

/** The index to read from, or `RecordsPositionError` saying why the position does not hold. */
function checkPosition(
  position: RecordsPosition,
  end: number,
  generation: number,
  rewritePending: boolean,
): number {
  const { index, generation: of } = position;
  if (
    typeof index !== 'number' ||
    !Number.isInteger(index) ||
    index < 0 ||
    typeof of !== 'number'
  ) {
    throw new RecordsPositionError(
      `${JSON.stringify(position)} is not a position of the in-memory backend ({ index, generation }). ` +
        'Pass a position this backend gave (a batch end or a snapshot position), or null to read from the start.',
    );
  }
  if (of !== generation) {
    throw new RecordsPositionError(
      `The log was rewritten since that position was read (generation ${of}, now ${generation}). ` +
        'Read from the start (null).',
    );
  }
  if (rewritePending) {
    throw new RecordsPositionError(
      'The log is being rewritten (a rewrite is queued): no position in it will hold. Read from the start (null).',
    );
  }
  if (index > end) {
    throw new RecordsPositionError(
      `The log holds ${end} records, fewer than the ${index} before that position: it was truncated or ` +
        'replaced. Read from the start (null).',
    );
  }
  return index;
}

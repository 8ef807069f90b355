import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  assertRecord,
  compareProtocolVersions,
  isMetadataRecord,
  isObservabilityRecord,
  type MetadataRecord,
  OBSERVABILITY_RECORD_TYPES,
  parseProtocolVersion,
  RecordsInvalidError,
  RecordsReplayError,
  RecordsVersionError,
} from '@agent-records/types';
import type { Migration, MigrationChain } from './migrations.js';
import type { LogFacts } from './snapshot-envelope.js';
import type { LiveFacts } from './snapshots.js';

/** What a replay pass needs from the core. */
export interface ReplayContext<R extends AgentRecordEnvelope> {
  protocolVersion: string;
  migrations: MigrationChain<R>;
  /** Re-applies one record (the core's `restore`, with `restoring` set). */
  restore(record: R, time: number): void;
  /** The log's file, for errors, when the persistence is file based. */
  file: string | undefined;
}

/**
 * The one loop that re-applies records, for a full replay and for the tail after a snapshot:
 * checks each record, follows segments, migrates older ones through the chain, restores, and
 * keeps the facts a snapshot needs. A tail pass starts from the facts stored in the snapshot.
 */
export class ReplayPass<R extends AgentRecordEnvelope> {
  readonly #context: ReplayContext<R>;
  /** Records read so far (the 1-based position of the last one), metadata included. */
  records: number;
  restored: number;
  fromVersion: string | null;
  segmentVersion: string | null;
  segmentCreatedAt: number;
  aheadVersion: string | null;
  /** True once any record went through a migration. */
  migrated = false;
  /**
   * For a pass from the start: the records from the first migrated one on, migrated (so a
   * rewrite need not migrate them again), and how many log records come before them.
   */
  migratedTail: R[] | null = null;
  recordsBeforeTail = 0;
  readonly #fromStart: boolean;
  #chain: readonly Migration<R>[];
  /** No migration to run and no migrated tail to keep: records take feed's short way. */
  #plain: boolean;

  constructor(context: ReplayContext<R>, from: LogFacts | null) {
    this.#context = context;
    this.records = from?.records ?? 0;
    this.restored = from?.restored ?? 0;
    this.fromVersion = from?.fromVersion ?? null;
    this.segmentVersion = from?.segmentVersion ?? null;
    this.segmentCreatedAt = from?.segmentCreatedAt ?? 0;
    this.aheadVersion = from?.aheadVersion ?? null;
    this.#chain = from ? context.migrations.from(from.segmentVersion) : [];
    this.#fromStart = from === null;
    this.#plain = this.#chain.length === 0;
  }

  feed(batch: readonly R[]): void {
    // Runs once per record of the log. The loop holds only what the usual record needs (a quick
    // check, then restore); the first record, metadata, migrations and a record the quick check
    // doubts go to #feedOne. A cold replay runs its first thousands of records in unoptimised
    // code: the smaller this loop, the sooner it is optimised and the less time that takes (it
    // inlined the whole per-record path: 11-16 ms of compiling, ahead of the parser's loop in
    // the compiler's queue). The quick check (looksLikeRecord, not metadata, not observability)
    // is written out here, not called: each small helper called per record was also optimised
    // on its own before being inlined here, and each optimising compile costs (the two helpers
    // were ~20M of a 100k-record replay's ~1,410M instructions). The position is counted
    // locally, stored also when a record throws.
    const restore = this.#context.restore;
    let plain = this.#plain;
    let position = this.records;
    let restoring: R | null = null;
    try {
      for (let i = 0; i < batch.length; i++) {
        const raw = batch[i] as R;
        position++;
        // looksLikeRecord, and not metadata or an observability record: the record is restored
        // here. Any other (or a getter that throws) takes the long way, which says what is wrong.
        // biome-ignore lint/suspicious/noConfusingLabels: a flag set in the try instead compiled to ~5M more instructions per 100k records
        usual: if (plain && position !== 1 && typeof raw === 'object' && raw !== null) {
          let type: unknown;
          let time: unknown;
          try {
            type = raw.type;
            time = raw.time;
          } catch {
            break usual;
          }
          if (typeof type !== 'string' || type === '' || type === 'metadata') break usual;
          // An observability record (see OBSERVABILITY_TYPES_BY_LENGTH), or a type as long as
          // several of them (SEVERAL_TYPES, the table's one symbol: `typeof` is checked inline,
          // where comparing with the symbol called a builtin): the long way tells.
          const same =
            type.length < OBSERVABILITY_TYPES_BY_LENGTH.length
              ? OBSERVABILITY_TYPES_BY_LENGTH[type.length]
              : undefined;
          if (same !== undefined && (same === type || typeof same === 'symbol')) break usual;
          if (time === undefined) time = this.segmentCreatedAt;
          else if (typeof time !== 'number' || time - time !== 0) break usual;
          if (Array.isArray(raw)) break usual;
          restoring = raw;
          restore(raw, time as number);
          restoring = null;
          this.restored++;
          continue;
        }
        this.records = position;
        this.#feedOne(raw, position);
        plain = this.#plain;
      }
    } catch (cause) {
      if (restoring === null) throw cause;
      throw restoreFailed(restoring, position, this.#context.file, cause);
    } finally {
      this.records = position;
    }
  }

  /** One record, whatever it is: checked, a new segment, migrated, restored. */
  #feedOne(raw: R, position: number): void {
    if (position === 1 || !looksLikeRecord(raw)) checkReplayed<R>(raw, position);
    if (raw.type === 'metadata' && isMetadataRecord(raw)) {
      this.#startSegment(raw, position);
      return;
    }
    const current = this.#chain.length > 0 ? this.#migrated(raw, position) : raw;
    this.migratedTail?.push(current);
    if (isObservabilityRecord(current)) return;
    try {
      this.#context.restore(current, timeOf(current, this.segmentCreatedAt));
    } catch (cause) {
      throw restoreFailed(current, position, this.#context.file, cause);
    }
    this.restored++;
  }

  /** A metadata record: a new segment, at its own version. */
  #startSegment(record: R & MetadataRecord, position: number): void {
    this.#chain = segmentMigrations(record.protocol_version, this.#context.migrations);
    this.segmentVersion = record.protocol_version;
    this.segmentCreatedAt = record.created_at;
    this.fromVersion ??= this.segmentVersion;
    this.#plain = this.#chain.length === 0 && this.migratedTail === null;
    if (compareProtocolVersions(this.segmentVersion, this.#context.protocolVersion) > 0) {
      this.aheadVersion = this.segmentVersion;
    }
    try {
      this.#context.restore(record, timeOf(record, this.segmentCreatedAt));
    } catch (cause) {
      throw restoreFailed(record, position, this.#context.file, cause);
    }
    this.restored++;
  }

  /** `record` through the segment's chain of migrations; the migrated tail starts at the first. */
  #migrated(record: R, position: number): R {
    let current = record;
    for (const migration of this.#chain) {
      current = migrateOne(migration, current, position, this.#context.file);
    }
    this.migrated = true;
    if (this.#fromStart && this.migratedTail === null) {
      this.migratedTail = [];
      this.recordsBeforeTail = position - 1;
      this.#plain = false;
    }
    return current;
  }

  /** The facts a snapshot taken right after this pass would store. */
  facts(): LiveFacts {
    return {
      records: this.records,
      restored: this.restored,
      fromVersion: this.fromVersion,
      segmentVersion: this.segmentVersion,
      segmentCreatedAt: this.segmentCreatedAt,
      aheadVersion: this.aheadVersion,
    };
  }

  /** True when the log's last segment is at this code's version. */
  get atCurrentVersion(): boolean {
    return (
      this.segmentVersion !== null &&
      compareProtocolVersions(this.segmentVersion, this.#context.protocolVersion) === 0
    );
  }
}

/**
 * The observability record types by length, for the check in {@link ReplayPass.feed} (which
 * does without `isObservabilityRecord`'s `Array#includes`: a builtin call and a comparison with
 * every observability type, per record, ~2% of a replay's instructions): most types have a
 * length none of them has, and the others differ from them in their first characters.
 */
const OBSERVABILITY_TYPES_BY_LENGTH: (string | typeof SEVERAL_TYPES | undefined)[] = [];
/**
 * In {@link OBSERVABILITY_TYPES_BY_LENGTH}: more than one observability type has this length
 * (none today), and a record of that length takes the long way. One type per length keeps the
 * check a comparison, not a loop: the loop was ~3M instructions per 100k-record replay, most of
 * it in compiling `feed`.
 */
const SEVERAL_TYPES: unique symbol = Symbol('several observability types');
for (const type of OBSERVABILITY_RECORD_TYPES) {
  OBSERVABILITY_TYPES_BY_LENGTH[type.length] =
    OBSERVABILITY_TYPES_BY_LENGTH[type.length] === undefined ? type : SEVERAL_TYPES;
}

/**
 * The one rule for the version a metadata record starts a segment at, for replay and for
 * `logRecord` (which refuses what a replay would stop at): `MAJOR.MINOR`, and when older than
 * the current version, a chain of migrations from it. Returns that chain (empty at the current
 * version or a newer one); throws `RecordsVersionError` saying what is wrong.
 */
export function segmentMigrations<R extends AgentRecordEnvelope>(
  version: unknown,
  migrations: MigrationChain<R>,
): readonly Migration<R>[] {
  parseProtocolVersion(version as string);
  return migrations.from(version as string);
}

function restoreFailed(
  record: AgentRecordEnvelope,
  position: number,
  file: string | undefined,
  cause: unknown,
): RecordsReplayError {
  return new RecordsReplayError(
    { position, recordType: record.type, stage: 'restore', file },
    { cause },
  );
}

/**
 * The common case of {@link assertRecord}, without its messages: a plain object with a non-empty
 * string `type` and no `time` or a finite one. False sends the record to the full check, which
 * says what is wrong (or finds nothing, for an odd record that is one).
 */
function looksLikeRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const { type, time } = value as { type?: unknown; time?: unknown };
    return (
      typeof type === 'string' &&
      type !== '' &&
      (time === undefined || (typeof time === 'number' && Number.isFinite(time))) &&
      !Array.isArray(value)
    );
  } catch {
    return false; // a getter that throws: the full check reports it
  }
}

/**
 * The whole log migrated to the current version, for rewriting it, metadata records left out,
 * with the `created_at` of its first segment for the new metadata record. After a pass from the
 * start, the records before its migrated tail are read again as they are and the tail is taken
 * as migrated; after a pass from a snapshot (which never read the records before it), each
 * segment is read again and migrated from its own version.
 */
export async function readMigratedLog<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R>,
  pass: ReplayPass<R>,
  migrations: MigrationChain<R>,
  file: string | undefined,
): Promise<{ records: R[]; createdAt: number | null }> {
  const records: R[] = [];
  let createdAt: number | null = null;
  let chain: readonly Migration<R>[] = [];
  let position = 0;
  const tail = pass.migratedTail;
  read: for await (const batch of batchesOf(persistence)) {
    for (const raw of batch) {
      if (tail && position === pass.recordsBeforeTail) break read;
      position++;
      if (isMetadataRecord(raw)) {
        createdAt ??= raw.created_at;
        chain = migrations.from(raw.protocol_version);
        continue;
      }
      let current = raw;
      for (const migration of chain) current = migrateOne(migration, current, position, file);
      records.push(current);
    }
  }
  if (tail) for (const record of tail) records.push(record);
  return { records, createdAt };
}

/**
 * Batches when the persistence offers them (one await per batch: its own iterable, not wrapped
 * in another generator level), else one-record batches.
 */
export function batchesOf<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R>,
): AsyncIterable<readonly R[]> {
  if (typeof persistence.readBatches === 'function') return persistence.readBatches();
  return singleRecordBatches(persistence.read());
}

async function* singleRecordBatches<R>(records: AsyncIterable<R>): AsyncIterable<readonly R[]> {
  for await (const record of records) yield [record];
}

function migrateOne<R extends AgentRecordEnvelope>(
  migration: Migration<R>,
  record: R,
  position: number,
  file: string | undefined,
): R {
  try {
    return migration.migrateRecord(record);
  } catch (cause) {
    throw new RecordsReplayError(
      {
        position,
        recordType: record.type,
        stage: 'migrate',
        migration: `${migration.sourceVersion} -> ${migration.targetVersion}`,
        file,
      },
      { cause },
    );
  }
}

function checkReplayed<R extends AgentRecordEnvelope>(raw: unknown, position: number): R {
  try {
    assertRecord(raw);
  } catch (error) {
    throw new RecordsInvalidError(
      (error as RecordsInvalidError).recordType,
      `record #${position} of the log is not a record (${(error as Error).message})`,
    );
  }
  if (position === 1 && !isMetadataRecord(raw)) {
    throw new RecordsVersionError(
      `The log does not start with a metadata record (its first record is of type ` +
        `"${raw.type}"), so its protocol version is unknown. Prepend ` +
        `{"type":"metadata","protocol_version":"MAJOR.MINOR","created_at":<ms>} for the version ` +
        'that wrote it.',
    );
  }
  return raw as R;
}

function timeOf(record: AgentRecordEnvelope, fallback: number): number {
  return typeof record.time === 'number' ? record.time : fallback;
}

/** The facts of a log just rewritten as one segment at `version`. */
export function factsOf<R extends AgentRecordEnvelope>(
  records: readonly R[],
  version: string,
  createdAt: number,
): LogFacts {
  let restored = 0;
  for (const record of records) if (!isObservabilityRecord(record)) restored++;
  return {
    records: records.length,
    restored,
    fromVersion: version,
    segmentVersion: version,
    segmentCreatedAt: createdAt,
    aheadVersion: null,
  };
}

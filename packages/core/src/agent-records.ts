import { messageOf } from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  AgentRecordsError,
  assertRecord,
  compareProtocolVersions,
  isMetadataRecord,
  isObservabilityRecord,
  type LegacyAgentRecordPersistence,
  parseProtocolVersion,
  RecordsClosedError,
  type RecordsErrorHandler,
  type RecordsErrorInfo,
  RecordsInvalidError,
  RecordsReplayError,
  RecordsSerializeError,
  RecordsVersionError,
  recordProblem,
} from '@agent-records/types';
import { GuardedWriter, typeOf } from './guarded-writer.js';
import { canRewrite, toPersistence } from './legacy.js';
import { type Migration, MigrationChain } from './migrations.js';

/** What `restore` is told about the record being re-applied. */
export interface RestoreContext {
  /** The record's `time` (epoch ms); for a record without one, its segment's `created_at`. */
  time: number;
}

/** The host's function that re-applies one record to its state. */
export type RestoreFunction<R extends AgentRecordEnvelope = AgentRecord> = (
  record: R,
  context: RestoreContext,
) => void;

export interface AgentRecordsOptions<R extends AgentRecordEnvelope = AgentRecord> {
  /** Where records go. A persistence of the previous contract is wrapped automatically. */
  persistence?: AgentRecordPersistence<R> | LegacyAgentRecordPersistence<R>;
  /** The `MAJOR.MINOR` version this code writes and reads, e.g. `'1.3'`. */
  protocolVersion: string;
  /** Steps from older versions to `protocolVersion`, applied on replay. */
  migrations?: readonly Migration<R>[];
  /** Re-applies one record to the host's state; called for every replayed record. */
  restore?: RestoreFunction<R>;
  /** Storage failures, refused records and the backend's reports. Default: console.error. */
  onError?: RecordsErrorHandler;
  /** The clock for `time` and `created_at` (epoch ms). Default: Date.now. */
  now?: () => number;
}

export interface ReplayResult {
  /** Records restored, metadata included (observability records are not restored). */
  records: number;
  /** The protocol version of the log's first segment; null for an empty log. */
  fromVersion: string | null;
  /** True when any record went through a migration (even if the rewrite could not happen). */
  migrated: boolean;
  /** Set when the replay succeeded with something the host should know. */
  warning?: string;
}

const defaultOnError: RecordsErrorHandler = (error, info) => {
  console.error(`[agent-records] ${info.kind}: ${error.message}`);
};

/**
 * Logs an agent's state changes and replays them. Live code calls `logRecord()` just before it
 * mutates state; on resume, `replay()` reads the log, migrates old records and re-applies each
 * through `restore`.
 *
 * A storage failure never breaks the live agent: `logRecord` never throws because of the
 * persistence. Failures go to `onError` once per episode and make `flush()`/`close()` reject.
 */
export class AgentRecords<R extends AgentRecordEnvelope = AgentRecord> {
  /** The protocol version this instance writes. */
  readonly protocolVersion: string;

  readonly #persistence: AgentRecordPersistence<R> | undefined;
  readonly #canRewrite: boolean;
  readonly #restore: RestoreFunction<R> | undefined;
  readonly #onError: RecordsErrorHandler;
  readonly #now: () => number;
  readonly #migrations: MigrationChain<R>;
  #restoring: RestoreContext | null = null;
  /** A metadata record at protocolVersion opens the log's current last segment. */
  #segmentOpen = false;
  /** Hands records to the persistence so that its failures never reach the live agent. */
  readonly #writer: GuardedWriter<R> | undefined;
  #closed = false;

  constructor(options: AgentRecordsOptions<R>) {
    parseProtocolVersion(options.protocolVersion);
    this.protocolVersion = options.protocolVersion;
    this.#onError = options.onError ?? defaultOnError;
    this.#now = options.now ?? Date.now;
    this.#restore = options.restore;
    this.#migrations = new MigrationChain(options.protocolVersion, options.migrations ?? []);
    const given = options.persistence;
    this.#canRewrite = given ? canRewrite(given) : false;
    this.#persistence = given ? toPersistence(given, { onError: this.#report }) : undefined;
    this.#writer = this.#persistence
      ? new GuardedWriter(this.#persistence, this.#report)
      : undefined;
  }

  /** While a record is being restored: `{ time }` of that record; otherwise `null`. */
  get restoring(): RestoreContext | null {
    return this.#restoring;
  }

  /**
   * Logs one record. Stamps `time` if unset and opens the log with a metadata record. Ignored
   * while restoring. Never throws because of the persistence; invalid records are reported
   * through `onError` and not stored.
   */
  logRecord(record: R): void {
    if (this.#restoring) return;
    try {
      this.#log(record);
    } catch (error) {
      // Whatever the value: a getter or Proxy trap that throws while the record is copied, a
      // clock that throws. It is refused on its own; the live code after logRecord runs.
      const type = typeOf(record);
      const refusal =
        error instanceof AgentRecordsError
          ? error
          : new RecordsSerializeError(type, { cause: error });
      this.#report(refusal, { kind: 'record-refused', recordType: type });
    }
  }

  #log(record: R): void {
    const problem = recordProblem(record);
    if (problem !== null) {
      const type = typeOf(record);
      this.#report(new RecordsInvalidError(type, problem), {
        kind: 'record-refused',
        recordType: type,
      });
      return;
    }
    if (this.#closed) {
      this.#report(
        new RecordsClosedError('logRecord() after close(): the record was not stored.'),
        {
          kind: 'record-refused',
          recordType: typeOf(record),
        },
      );
      return;
    }
    if (!this.#persistence) return;
    // The log's metadata record first (its created_at before the record's time), then the
    // record, copied to stamp its time; nothing is appended unless both are ready.
    const metadata = this.#segmentOpen || record.type === 'metadata' ? null : this.#metadata();
    let entry: R = record;
    if (record.time === undefined) {
      const time = this.#now();
      try {
        entry = { ...record, time } as R;
      } catch (cause) {
        throw new RecordsSerializeError(typeOf(record), { cause });
      }
    }
    this.#segmentOpen = true;
    if (metadata) this.#writer?.append(metadata);
    this.#writer?.append(entry);
  }

  /** Re-applies one record through the `restore` option, with `restoring` set. */
  restore(record: R, context?: RestoreContext): void {
    if (!this.#restore) return;
    const previous = this.#restoring;
    this.#restoring = context ?? { time: typeof record.time === 'number' ? record.time : 0 };
    try {
      this.#restore(record, this.#restoring);
    } finally {
      this.#restoring = previous;
    }
  }

  /**
   * Reads the log and restores every record, migrating older segments to `protocolVersion`.
   * A migrated log is rewritten at the current version and flushed (when the persistence can
   * rewrite). A log newer than this code is restored unmigrated, with a warning.
   */
  async replay(): Promise<ReplayResult> {
    const persistence = this.#persistence;
    if (!persistence) return { records: 0, fromVersion: null, migrated: false };

    let position = 0;
    let restored = 0;
    let fromVersion: string | null = null;
    let segmentVersion: string | null = null;
    let segmentCreatedAt = 0;
    let chain: readonly Migration<R>[] = [];
    let migrated = false;
    let newestAhead: string | null = null;
    // Migrated logs are rewritten, which needs them in memory; a log at the current version is
    // streamed. Collect from the first migrated record on; what came before is re-read later.
    let migratedTail: R[] | null = null;
    let recordsBeforeTail = 0;

    for await (const batch of batchesOf(persistence)) {
      for (const raw of batch) {
        position++;
        const record = this.#checkReplayed(raw, position);
        if (isMetadataRecord(record)) {
          parseProtocolVersion(record.protocol_version);
          segmentVersion = record.protocol_version;
          segmentCreatedAt = record.created_at;
          fromVersion ??= segmentVersion;
          chain = this.#migrations.from(segmentVersion);
          if (compareProtocolVersions(segmentVersion, this.protocolVersion) > 0) {
            newestAhead = segmentVersion;
          }
          this.#restoreReplayed(record as R, position, segmentCreatedAt);
          restored++;
          continue;
        }
        let current = record;
        for (const migration of chain) current = this.#migrate(migration, current, position);
        if (chain.length > 0 && migratedTail === null) migratedTail = [];
        if (migratedTail) migratedTail.push(current);
        else recordsBeforeTail++;
        if (chain.length > 0) migrated = true;
        if (isObservabilityRecord(current)) continue;
        this.#restoreReplayed(current, position, segmentCreatedAt);
        restored++;
      }
    }

    const warnings: string[] = [];
    if (newestAhead !== null) {
      warnings.push(
        `The log was written at protocol version ${newestAhead}, newer than this code's ` +
          `${this.protocolVersion}; it was replayed unmigrated and left as it is.`,
      );
    }
    const atCurrent =
      segmentVersion !== null &&
      compareProtocolVersions(segmentVersion, this.protocolVersion) === 0;
    this.#segmentOpen = atCurrent;
    if (migratedTail) {
      const rewriteWarning = await this.#rewriteMigrated(recordsBeforeTail, migratedTail);
      if (rewriteWarning) warnings.push(rewriteWarning);
    }
    const result: ReplayResult = { records: restored, fromVersion, migrated };
    if (warnings.length > 0) {
      result.warning = warnings.join(' ');
      this.#report(new RecordsVersionError(result.warning), { kind: 'warning' });
    }
    return result;
  }

  /**
   * Resolves when every record logged so far is durable. Rejects with `RecordsWriteError` (its
   * `cause` the underlying error) while writes fail; each call retries the queued work.
   */
  async flush(): Promise<void> {
    await this.#writer?.flush();
  }

  /** Flushes and closes the persistence. Idempotent; rejects like `flush()`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer?.close();
  }

  #metadata(): R {
    return {
      type: 'metadata',
      protocol_version: this.protocolVersion,
      created_at: this.#now(),
    } as unknown as R;
  }

  async #rewriteMigrated(prefixLength: number, tail: R[]): Promise<string | undefined> {
    const persistence = this.#persistence as AgentRecordPersistence<R>;
    if (!this.#canRewrite) {
      this.#segmentOpen = false;
      return (
        'The log was migrated in memory only: its persistence cannot rewrite (it follows the ' +
        'previous contract). New records start a new segment at the current version.'
      );
    }
    // The records before the first migrated one needed no migration: read them again as they are.
    const records: R[] = [];
    let createdAt: number | null = null;
    for await (const raw of persistence.read()) {
      if (isMetadataRecord(raw)) createdAt ??= raw.created_at;
      if (records.length === prefixLength) break;
      if (!isMetadataRecord(raw)) records.push(raw);
    }
    for (const record of tail) records.push(record);
    const metadata = this.#metadata() as R & { created_at: number };
    metadata.created_at = createdAt ?? metadata.created_at;
    try {
      persistence.rewrite([metadata, ...records]);
    } catch (error) {
      this.#segmentOpen = false;
      return `The migrated log could not be rewritten (${messageOf(error)}); it was migrated in memory only.`;
    }
    // Once flushed, the log is one segment at the current version; the rewrite stays queued
    // ahead of any new record even if this flush fails.
    this.#segmentOpen = true;
    try {
      await this.flush();
    } catch (error) {
      // Whether or not the rewrite lands later, a new segment keeps new records from being
      // read as the old version.
      this.#segmentOpen = false;
      return (
        `The migrated log is queued for rewriting but flushing it failed (${messageOf(error)}); ` +
        'the next flush() retries.'
      );
    }
    return undefined;
  }

  /** Restores one replayed record; what the host's `restore` throws names the record. */
  #restoreReplayed(record: R, position: number, segmentCreatedAt: number): void {
    try {
      this.restore(record, { time: timeOf(record, segmentCreatedAt) });
    } catch (cause) {
      throw new RecordsReplayError(
        { position, recordType: record.type, stage: 'restore', file: this.#logFile() },
        { cause },
      );
    }
  }

  #migrate(migration: Migration<R>, record: R, position: number): R {
    try {
      return migration.migrateRecord(record);
    } catch (cause) {
      throw new RecordsReplayError(
        {
          position,
          recordType: record.type,
          stage: 'migrate',
          migration: `${migration.sourceVersion} -> ${migration.targetVersion}`,
          file: this.#logFile(),
        },
        { cause },
      );
    }
  }

  /** The log's file, when the persistence is file based and names it. */
  #logFile(): string | undefined {
    const file = (this.#persistence as { file?: unknown } | undefined)?.file;
    return typeof file === 'string' ? file : undefined;
  }

  #checkReplayed(raw: unknown, position: number): R {
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

  readonly #report = (error: Error, info: RecordsErrorInfo): void => {
    try {
      this.#onError(error, info);
    } catch {
      // A throwing error handler must not break the live agent either.
    }
  };
}

/** Batches when the persistence offers them (one await per batch), else one-record batches. */
async function* batchesOf<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R>,
): AsyncIterable<readonly R[]> {
  if (typeof persistence.readBatches === 'function') {
    yield* persistence.readBatches();
    return;
  }
  for await (const record of persistence.read()) yield [record];
}

function timeOf(record: AgentRecordEnvelope, fallback: number): number {
  return typeof record.time === 'number' ? record.time : fallback;
}

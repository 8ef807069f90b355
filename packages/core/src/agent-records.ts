import { messageOf, serializeRecord } from '@agent-records/backend-kit';
import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  AgentRecordsError,
  compareProtocolVersions,
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
import { MigrationChain } from './migrations.js';
import type {
  AgentRecordsOptions,
  ReplayResult,
  RestoreContext,
  RestoreFunction,
} from './options.js';
import {
  batchesOf,
  factsOf,
  type ReplayContext,
  ReplayPass,
  readMigratedLog,
  segmentMigrations,
} from './replay.js';
import { type LoadedSnapshot, SnapshotKeeper } from './snapshots.js';

export type { AgentRecordsOptions, ReplayResult, RestoreContext, RestoreFunction };

/**
 * `record` as `JSON.stringify` presents it (its `toJSON` applied), as a fresh plain object: by
 * the backend kit's `serializeRecord`, so a toJSON that throws, or presents no record, is
 * refused (`RecordsSerializeError`) with the same message a backend gives.
 */
function presented<R extends AgentRecordEnvelope>(record: R): R {
  return JSON.parse(serializeRecord(record)) as R;
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
  /**
   * `context`: the context of the record being restored (see `restoring`), or null. A replay gives
   * each batch a fresh cell: setting `context` on a cell allocated since the last scavenge, not on
   * this long-lived instance, spares every restored record V8's write barrier (a young object
   * stored into an old one: its remembered-set insertion was ~14M instructions per 100k records).
   */
  #restoring: { context: RestoreContext | null } = { context: null };
  /** A metadata record at protocolVersion opens the log's current last segment. */
  #segmentOpen = false;
  /** Hands records to the persistence so that its failures never reach the live agent. */
  readonly #writer: GuardedWriter<R> | undefined;
  readonly #snapshots: SnapshotKeeper<R>;
  #titleWarned = false;
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
    this.#snapshots = new SnapshotKeeper(options.snapshots, this.#persistence, {
      protocolVersion: this.protocolVersion,
      report: this.#report,
      now: () => this.#now(),
      holdsRecords: () => this.#writer?.holdsRecords ?? false,
    });
  }

  /** While a record is being restored: `{ time }` of that record; otherwise `null`. */
  get restoring(): RestoreContext | null {
    return this.#restoring.context;
  }

  /**
   * Logs one record. Stamps `time` if unset and opens the log with a metadata record. Ignored
   * while restoring. Never throws because of the persistence; invalid records are reported
   * through `onError` and not stored.
   */
  logRecord(record: R): void {
    if (this.#restoring.context) return;
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
    if (!this.#writer) return;
    // A snapshot due is taken first: the host's state reflects every record before this one.
    this.#snapshots.beforeRecord();
    // A record with a toJSON is stored as toJSON presents it (JSON.stringify semantics): that
    // plain object, through the one guarded serialisation, gets the time; a spread copy would
    // drop a prototype's toJSON (writing the fields it hides) or keep an own one (dropping time).
    const entry = 'toJSON' in record ? presented(record) : record;
    // The host's own metadata record starts a segment at its version: refused if a replay
    // could not read on from it. Records after it belong to the current version: a segment
    // at another version is closed to them.
    const hostSegment = entry.type === 'metadata' ? this.#hostSegment(entry) : null;
    // The log's metadata record first (its created_at before the record's time), then the
    // record, copied to stamp its time; nothing is appended unless both are ready.
    const metadata = this.#segmentOpen || hostSegment !== null ? null : this.#metadata();
    let stamped: R = entry;
    if (entry.time === undefined) {
      const time = this.#now();
      if (entry !== record) entry.time = time;
      else {
        try {
          stamped = { ...record, time } as R;
        } catch (cause) {
          throw new RecordsSerializeError(typeOf(record), { cause });
        }
      }
    }
    this.#segmentOpen = hostSegment?.current ?? true;
    if (metadata && this.#writer.append(metadata)) this.#snapshots.logged(metadata);
    if (this.#writer.append(stamped)) this.#snapshots.logged(stamped);
  }

  /**
   * Asks for a snapshot of the host's state now (through `snapshots.take()`), for example at a
   * turn's end. Never throws: when none can be taken, `onError` hears why (a `warning`).
   * `await flush()` to know it is stored.
   */
  snapshot(): void {
    if (this.#restoring.context) return;
    if (this.#closed) {
      this.#report(new RecordsClosedError('snapshot() after close(): no snapshot was taken.'), {
        kind: 'warning',
      });
      return;
    }
    this.#snapshots.request();
  }

  /**
   * Gives the session a title, kept beside the log (not in it) and shown when sessions are
   * listed. Never throws; a persistence that cannot keep one gets a single `warning`.
   */
  setTitle(text: string): void {
    const persistence = this.#persistence;
    if (typeof persistence?.setTitle !== 'function') {
      if (!this.#titleWarned) {
        this.#titleWarned = true;
        this.#report(new Error('setTitle() did nothing: the persistence cannot keep a title.'), {
          kind: 'warning',
        });
      }
      return;
    }
    try {
      if (typeof text !== 'string') throw new TypeError('the title must be a string');
      persistence.setTitle(text);
    } catch (error) {
      this.#report(new Error(`setTitle() failed (${messageOf(error)}).`, { cause: error }), {
        kind: 'warning',
      });
    }
  }

  /** Re-applies one record through the `restore` option, with `restoring` set. */
  restore(record: R, context?: RestoreContext): void {
    if (!this.#restore) return;
    const cell = this.#restoring;
    const previous = cell.context;
    cell.context = context ?? { time: typeof record.time === 'number' ? record.time : 0 };
    try {
      this.#restore(record, cell.context);
    } finally {
      cell.context = previous;
    }
  }

  /**
   * Reads the log and restores every record, migrating older segments to `protocolVersion`.
   * With snapshots, the newest one that matches the log is restored first and only the records
   * after it are replayed. A migrated log is rewritten at the current version and flushed (when
   * the persistence can rewrite). A log newer than this code is restored unmigrated, with a
   * warning.
   */
  async replay(): Promise<ReplayResult> {
    const persistence = this.#persistence;
    if (!persistence) return { records: 0, fromVersion: null, migrated: false };
    // Until this replay ends, the log's facts are not known: no snapshot may be taken.
    this.#snapshots.establish(null, 0);
    const warnings: string[] = [];
    const context: ReplayContext<R> = {
      protocolVersion: this.protocolVersion,
      migrations: this.#migrations,
      restore: this.#replayRestore(),
      file: this.#logFile(),
    };
    const loaded = await this.#snapshots.load();
    let pass: ReplayPass<R>;
    if (loaded.usable) {
      pass = await this.#replayTail(loaded, context);
    } else {
      if (loaded.warning !== null) {
        warnings.push(loaded.warning.message);
        this.#report(loaded.warning, { kind: 'warning' });
      }
      pass = new ReplayPass(context, null);
      for await (const batch of batchesOf(persistence)) {
        this.#freshRestoringCell();
        pass.feed(batch);
      }
    }
    const snapshotRecords = loaded.usable ? loaded.stored.records : 0;

    const versionWarnings: string[] = [];
    if (pass.aheadVersion !== null) {
      versionWarnings.push(
        `The log was written at protocol version ${pass.aheadVersion}, newer than this code's ` +
          `${this.protocolVersion}; it was replayed unmigrated and left as it is.`,
      );
    }
    this.#segmentOpen = pass.atCurrentVersion;
    this.#snapshots.establish(pass.facts(), pass.records - snapshotRecords);
    if (pass.migrated) {
      const rewriteWarning = await this.#rewriteMigrated(pass);
      if (rewriteWarning) versionWarnings.push(rewriteWarning);
    }
    const result: ReplayResult = {
      records: pass.restored,
      fromVersion: pass.fromVersion,
      migrated: pass.migrated,
    };
    if (loaded.usable) {
      result.fromSnapshot = { position: loaded.stored.position, records: loaded.stored.records };
    }
    if (versionWarnings.length > 0) {
      this.#report(new RecordsVersionError(versionWarnings.join(' ')), { kind: 'warning' });
    }
    warnings.push(...versionWarnings);
    if (warnings.length > 0) result.warning = warnings.join(' ');
    return result;
  }

  /**
   * `restore()` for a replay, which calls it once per record: the host's function itself behind
   * one closure, not a closure, a method and a context check.
   */
  #replayRestore(): (record: R, time: number) => void {
    const host = this.#restore;
    if (!host) return () => {};
    return (record, time) => {
      const cell = this.#restoring;
      const previous = cell.context;
      const restoring = { time };
      cell.context = restoring;
      try {
        host.call(this, record, restoring);
      } finally {
        cell.context = previous;
      }
    };
  }

  /** A new cell for `restoring`, young for the batch about to be fed (see `#restoring`). */
  #freshRestoringCell(): void {
    this.#restoring = { context: this.#restoring.context };
  }

  /** Restores the snapshot's state (its position already known to match), then the tail. */
  async #replayTail(
    loaded: Extract<LoadedSnapshot<R>, { usable: true }>,
    context: ReplayContext<R>,
  ): Promise<ReplayPass<R>> {
    const { envelope, tail } = loaded;
    const cell = this.#restoring;
    const previous = cell.context;
    cell.context = { time: envelope.takenAt };
    try {
      this.#snapshots.restoreState(envelope.state);
    } catch (cause) {
      await tail.return?.();
      throw new RecordsReplayError(
        {
          position: loaded.stored.records,
          recordType: 'snapshot',
          stage: 'restore',
          file: context.file,
        },
        { cause },
      );
    } finally {
      cell.context = previous;
    }
    const pass = new ReplayPass(context, envelope);
    for (let step = loaded.first; !step.done; step = await tail.next()) {
      this.#freshRestoringCell();
      pass.feed(step.value.records);
    }
    return pass;
  }

  /**
   * Resolves when every record logged so far is durable. Rejects with `RecordsWriteError` (its
   * `cause` the underlying error) while writes fail; each call retries the queued work.
   */
  flush(): Promise<void> {
    // The writer's promise itself: an async wrapper here was one more promise hop per flush.
    return this.#writer ? this.#writer.flush() : Promise.resolve();
  }

  /** Flushes and closes the persistence. Idempotent; rejects like `flush()`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer?.close();
  }

  /**
   * Checks a metadata record the host logs by replay's rule (`segmentMigrations`): its
   * `protocol_version` is `MAJOR.MINOR` and, if older than `protocolVersion`, a migration chain
   * starts from it. Else `RecordsInvalidError`: stored, it would stop every later replay.
   */
  #hostSegment(record: R): { current: boolean } {
    const version = (record as { protocol_version?: unknown }).protocol_version;
    try {
      segmentMigrations(version, this.#migrations);
    } catch (error) {
      if (!(error instanceof RecordsVersionError)) throw error;
      throw new RecordsInvalidError(
        'metadata',
        `it starts a segment that a replay could not read on from (${error.message.replace(/\.$/, '')}), ` +
          'so the session could never be resumed. Log a metadata record only to start a segment ' +
          `at ${this.protocolVersion} (this code's protocolVersion), a newer version, or an older ` +
          'one a migration starts from; or let the core write metadata records',
      );
    }
    return { current: compareProtocolVersions(version as string, this.protocolVersion) === 0 };
  }

  #metadata(): R {
    return {
      type: 'metadata',
      protocol_version: this.protocolVersion,
      created_at: this.#now(),
    } as unknown as R;
  }

  /** Rewrites a log that needed migrating as one segment at the current version. */
  async #rewriteMigrated(pass: ReplayPass<R>): Promise<string | undefined> {
    const persistence = this.#persistence as AgentRecordPersistence<R>;
    // Until the rewrite is flushed, which log a snapshot would name is unknown.
    this.#snapshots.establish(null, 0);
    if (!this.#canRewrite) {
      // The log stays as it is: its last segment decides (pass.atCurrentVersion, set by the
      // replay). One already at the current version takes new records; an older one gets a new
      // segment, so the old one is never migrated twice.
      return (
        'The log was migrated in memory only: its persistence cannot rewrite (it follows the ' +
        'previous contract). ' +
        (this.#segmentOpen
          ? 'Its last segment is already at the current version: new records go on in it.'
          : 'New records start a new segment at the current version.')
      );
    }
    const { records, createdAt } = await readMigratedLog(
      persistence,
      pass,
      this.#migrations,
      this.#logFile(),
    );
    const metadata = this.#metadata() as R & { created_at: number };
    metadata.created_at = createdAt ?? metadata.created_at;
    const rewritten = [metadata, ...records];
    try {
      persistence.rewrite(rewritten);
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
    this.#snapshots.establish(
      factsOf(rewritten, this.protocolVersion, metadata.created_at),
      rewritten.length,
    );
    return undefined;
  }

  /** The log's file, when the persistence is file based and names it. */
  #logFile(): string | undefined {
    const file = (this.#persistence as { file?: unknown } | undefined)?.file;
    return typeof file === 'string' ? file : undefined;
  }

  readonly #report = (error: Error, info: RecordsErrorInfo): void => {
    try {
      this.#onError(error, info);
    } catch {
      // A throwing error handler must not break the live agent either.
    }
  };
}

import { asError, messageOf } from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  compareProtocolVersions,
  isMetadataRecord,
  isObservabilityRecord,
  type RecordsBatch,
  type RecordsErrorHandler,
  RecordsPositionError,
  RecordsVersionError,
  type StoredSnapshot,
} from '@agent-records/types';
import { resolveRootToJSON, type SliceOptions } from './json-slices.js';
import {
  envelopeText,
  isVersion,
  type LogFacts,
  parseEnvelope,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotEnvelope,
} from './snapshot-envelope.js';

/** The host's side of snapshots: its whole state, out and back in. */
export interface SnapshotOptions {
  /**
   * Returns the host's state reflecting every record logged so far, as JSON data. Called
   * synchronously, and a state of at most about {@link SNAPSHOT_SYNC_UNITS} (256 KiB) of JSON
   * text is serialised at once, before the call that took it returns: it may share nested values
   * with the live state (`{ ...state }`). A larger state is serialised later, in slices (nested
   * `toJSON` methods and getters run then): its nested values must not change afterwards, so
   * return immutable data or a deep copy.
   */
  take(): unknown;
  /** Replaces the host's state with one `take()` returned (parsed back from JSON). */
  restore(state: unknown): void;
  /** Names the state's shape; a snapshot taken with another `version` is ignored. */
  version?: string | number;
  /** Take one at the start of a `logRecord` once this many records were logged since the last. */
  everyRecords?: number;
  /** ... or once this many bytes of records were logged since the last (estimated, see README). */
  everyBytes?: number;
}

/**
 * Defaults, measured with `node packages/core/scripts/snapshot-defaults.mjs`: through the file
 * backend a replayed record costs ~2 µs (300 B records) to ~13 µs (3 KB), so 10,000 records or
 * 8 MiB keep the tail a resume replays after a snapshot near 20-50 ms, while snapshots stay rare
 * next to records (each costs the state's serialisation, off the hot path).
 */
export const DEFAULT_EVERY_RECORDS = 10_000;

/**
 * A snapshot's state whose JSON text is at most about this many UTF-16 units is serialised whole
 * on the stack of the call that took it (a `logRecord` or `snapshot()`), by `JSON.stringify`,
 * before the host can mutate anything: a typical agent state fits. Measured on the bench's
 * records, 2 cores at load ~4: 200 KB in 2-3.5 ms on a cold start (1-2 ms warm); a 20 MB state
 * gives up after 3-5 ms and is serialised in slices as before.
 */
export const SNAPSHOT_SYNC_UNITS = 256 * 1024;
export const DEFAULT_EVERY_BYTES = 8 * 1024 * 1024;

/** The log's facts while they are being followed: an empty log has no versions yet. */
export type LiveFacts = Omit<LogFacts, 'fromVersion' | 'segmentVersion'> & {
  fromVersion: string | null;
  segmentVersion: string | null;
};

/** How a stored snapshot turned out for a replay. */
export type LoadedSnapshot<R extends AgentRecordEnvelope> =
  | { usable: false; warning: Error | null }
  | {
      usable: true;
      stored: StoredSnapshot;
      envelope: SnapshotEnvelope;
      /** The tail, its first step already taken (so the position is known to match). */
      tail: AsyncIterator<RecordsBatch<R>>;
      first: IteratorResult<RecordsBatch<R>>;
    };

type Capable<R extends AgentRecordEnvelope> = AgentRecordPersistence<R> &
  Required<Pick<AgentRecordPersistence<R>, 'readFrom' | 'writeSnapshot' | 'readSnapshot'>>;

export interface SnapshotKeeperContext {
  protocolVersion: string;
  report: RecordsErrorHandler;
  now(): number;
  /** True while records wait in the core for a failed append to be retried. */
  holdsRecords(): boolean;
  slices?: SliceOptions;
}

/**
 * Takes, stores and finds the host's snapshots. It knows the log's facts (records, segments)
 * only once a replay established them; until then, and while they are unknown (a rewrite not yet
 * flushed), it takes none: a snapshot's facts must be right or it must not exist.
 */
export class SnapshotKeeper<R extends AgentRecordEnvelope> {
  readonly #options: SnapshotOptions | undefined;
  readonly #persistence: Capable<R> | null;
  readonly #context: SnapshotKeeperContext;
  readonly #everyRecords: number;
  readonly #everyBytes: number;
  /** The log's facts as of the last record logged; null while unknown. */
  #facts: LiveFacts | null = null;
  #recordsSince = 0;
  #bytesSince = 0;
  /** An automatic snapshot still being serialised: the next waits for it. */
  #inFlight = false;
  /** take() is running (a record it logs must not start another). */
  #taking = false;
  #warned = new Set<string>();

  constructor(
    options: SnapshotOptions | undefined,
    persistence: AgentRecordPersistence<R> | undefined,
    context: SnapshotKeeperContext,
  ) {
    if (options !== undefined) checkOptions(options);
    this.#options = options;
    this.#persistence = persistence && isCapable(persistence) ? persistence : null;
    this.#context = context;
    this.#everyRecords = options?.everyRecords ?? DEFAULT_EVERY_RECORDS;
    this.#everyBytes = options?.everyBytes ?? DEFAULT_EVERY_BYTES;
  }

  /** Whether snapshots are configured and the persistence can keep them. */
  get active(): boolean {
    return this.#options !== undefined && this.#persistence !== null;
  }

  /** After a replay: the log's facts (null: unknown) and how many records follow the snapshot. */
  establish(facts: LiveFacts | null, recordsSinceSnapshot: number): void {
    this.#facts = facts && { ...facts };
    this.#recordsSince = recordsSinceSnapshot;
    this.#bytesSince = 0;
  }

  /** A record the persistence accepted (metadata included): the facts move on. */
  logged(record: R): void {
    const facts = this.#facts;
    if (facts === null || !this.active) return;
    facts.records++;
    if (isMetadataRecord(record)) {
      if (!isVersion(record.protocol_version) || typeof record.created_at !== 'number') {
        // The host logged a metadata record of its own that a replay cannot read either.
        this.#facts = null;
        return;
      }
      facts.segmentVersion = record.protocol_version;
      facts.segmentCreatedAt = record.created_at;
      facts.fromVersion ??= record.protocol_version;
    }
    if (!isObservabilityRecord(record)) facts.restored++;
    this.#recordsSince++;
    this.#bytesSince += estimateBytes(record);
  }

  /** At the start of a logRecord: takes a snapshot if one is due. */
  beforeRecord(): void {
    if (this.#facts === null || !this.active || this.#inFlight) return;
    if (this.#recordsSince < this.#everyRecords && this.#bytesSince < this.#everyBytes) return;
    this.#take(false);
  }

  /** `records.snapshot()`: one now, or a warning saying why not. */
  request(): void {
    this.#take(true);
  }

  #take(asked: boolean): void {
    const why = this.#whyNot();
    if (why !== null) {
      if (asked) this.#warnOnce(why, `snapshot() did nothing: ${why}.`);
      return;
    }
    const options = this.#options as SnapshotOptions;
    const persistence = this.#persistence as Capable<R>;
    const facts = this.#facts as LiveFacts;
    const fromVersion = facts.fromVersion as string;
    const segmentVersion = facts.segmentVersion as string;
    let state: unknown;
    const recordsBefore = facts.records;
    this.#taking = true;
    try {
      // The root's toJSON too, now: a `{ toJSON: () => live }` is the state as of this record.
      state = resolveRootToJSON(options.take());
    } catch (error) {
      this.#context.report(
        new Error(`snapshots.take() threw (${messageOf(error)}); no snapshot was taken.`, {
          cause: error,
        }),
        { kind: 'warning' },
      );
      return;
    } finally {
      this.#taking = false;
    }
    if (this.#facts !== facts || facts.records !== recordsBefore) {
      // Which records the state reflects is unclear: better none than a wrong one.
      this.#warnOnce(
        'take() logged',
        'snapshots.take() logged a record; no snapshot was taken. Do not log in take().',
      );
      return;
    }
    const data = envelopeText(
      {
        format: SNAPSHOT_FORMAT,
        v: SNAPSHOT_FORMAT_VERSION,
        protocolVersion: this.#context.protocolVersion,
        stateVersion: options.version ?? null,
        takenAt: this.#context.now(),
        ...facts,
        fromVersion,
        segmentVersion,
      },
      state,
      // A state of up to SNAPSHOT_SYNC_UNITS is serialised now, on this stack: it is exactly the
      // one take() returned, whatever the host mutates after this call.
      { syncUnits: SNAPSHOT_SYNC_UNITS, ...this.#context.slices },
    );
    // The backend reports a rejection (as a warning); this only keeps it from being unhandled.
    data.then(undefined, () => {});
    try {
      persistence.writeSnapshot({ records: facts.records, data });
    } catch (error) {
      this.#context.report(asError(error), { kind: 'warning' });
      return;
    }
    this.#recordsSince = 0;
    this.#bytesSince = 0;
    if (!asked) {
      this.#inFlight = true;
      const done = () => {
        this.#inFlight = false;
      };
      data.then(done, done);
    }
  }

  /** Why no snapshot can be taken now, or null. */
  #whyNot(): string | null {
    if (!this.#options) return 'the snapshots option was not given';
    if (this.#taking) return 'snapshots.take() is running';
    if (!this.#persistence) {
      return 'the persistence cannot keep snapshots (it lacks writeSnapshot, readSnapshot or readFrom)';
    }
    const facts = this.#facts;
    if (!facts) {
      return "the log's state is unknown (call replay() before logging, also for a new session)";
    }
    if (
      facts.fromVersion === null ||
      facts.segmentVersion === null ||
      compareProtocolVersions(facts.segmentVersion, this.#context.protocolVersion) !== 0
    ) {
      return `the log's last segment is not at protocol version ${this.#context.protocolVersion} yet (it is once a record is logged)`;
    }
    if (this.#context.holdsRecords()) {
      return 'records wait for a failed write to be retried (flush() retries them)';
    }
    return null;
  }

  /**
   * The newest stored snapshot that can be used, with the tail after it already started (so a
   * position that no longer matches is known before the host's state is touched), or why not.
   */
  async load(): Promise<LoadedSnapshot<R>> {
    const persistence = this.#persistence;
    if (!this.#options || !persistence) return { usable: false, warning: null };
    let stored: StoredSnapshot | null;
    try {
      stored = await persistence.readSnapshot();
    } catch (error) {
      return { usable: false, warning: ignored(`reading it failed (${messageOf(error)})`, error) };
    }
    if (stored === null) return { usable: false, warning: null };
    const parsed = parseEnvelope(stored.data, {
      protocolVersion: this.#context.protocolVersion,
      stateVersion: this.#options.version ?? null,
      storedRecords: stored.records,
    });
    if ('problem' in parsed) {
      return { usable: false, warning: new RecordsVersionError(ignoredMessage(parsed.problem)) };
    }
    let tail: AsyncIterator<RecordsBatch<R>> | undefined;
    try {
      tail = persistence.readFrom(stored.position)[Symbol.asyncIterator]();
      const first = await tail.next();
      return { usable: true, stored, envelope: parsed.envelope, tail, first };
    } catch (error) {
      if (tail) await closeQuietly(tail);
      if (error instanceof RecordsPositionError) {
        const why = ignoredMessage(`it does not match the log any more (${error.message})`);
        return { usable: false, warning: new RecordsPositionError(why, { cause: error }) };
      }
      const why = `reading the log after it failed (${messageOf(error)})`;
      return { usable: false, warning: ignored(why, error) };
    }
  }

  /** Restores the host's state from a loaded snapshot. */
  restoreState(state: unknown): void {
    this.#options?.restore(state);
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#context.report(new Error(message), { kind: 'warning' });
  }
}

function ignoredMessage(why: string): string {
  return `The stored snapshot was ignored and the log replayed from the start: ${why}.`;
}

function ignored(why: string, cause: unknown): Error {
  return new Error(ignoredMessage(why), { cause });
}

async function closeQuietly(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // Only releasing what the failed read held.
  }
}

function isCapable<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R>,
): persistence is Capable<R> {
  return (
    typeof persistence.readFrom === 'function' &&
    typeof persistence.writeSnapshot === 'function' &&
    typeof persistence.readSnapshot === 'function'
  );
}

function checkOptions(options: SnapshotOptions): void {
  if (typeof options.take !== 'function' || typeof options.restore !== 'function') {
    throw new TypeError('The snapshots option needs take() and restore() functions.');
  }
  for (const name of ['everyRecords', 'everyBytes'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 1)) {
      throw new RangeError(
        `snapshots.${name} must be a number >= 1 (Infinity turns that trigger off); got ${String(value)}.`,
      );
    }
  }
  const version = options.version;
  if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version)) {
    throw new TypeError('snapshots.version must be a string or a finite number.');
  }
}

/** Nodes looked at per record: the estimate stays a few hundred nanoseconds. */
const ESTIMATE_BUDGET = 64;

/**
 * A cheap estimate of a record's size in the log, for `everyBytes`: string lengths (UTF-16
 * units, equal to UTF-8 bytes for ASCII), 8 per number, key lengths, over at most 64 nodes.
 * Nothing is serialised; records are usually small and their bulk is in a few long strings.
 */
export function estimateBytes(record: unknown): number {
  try {
    let bytes = 0;
    let budget = ESTIMATE_BUDGET;
    const pending: unknown[] = [record];
    while (pending.length > 0 && budget-- > 0) {
      const value = pending.pop();
      if (typeof value === 'string') bytes += value.length + 2;
      else if (typeof value !== 'object' || value === null) bytes += 8;
      else if (Array.isArray(value)) {
        bytes += 2 + value.length;
        for (let i = 0; i < value.length && i < budget; i++) pending.push(value[i]);
      } else {
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue;
          bytes += key.length + 4;
          if (pending.length > budget) break;
          pending.push((value as Record<string, unknown>)[key]);
        }
      }
    }
    return bytes;
  } catch {
    return 0;
  }
}

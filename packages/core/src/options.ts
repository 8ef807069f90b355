import type {
  AgentRecord,
  AgentRecordEnvelope,
  AgentRecordPersistence,
  LegacyAgentRecordPersistence,
  RecordsErrorHandler,
  RecordsPosition,
} from '@agent-records/types';
import type { Migration } from './migrations.js';
import type { SnapshotOptions } from './snapshots.js';

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
  /**
   * Keep the host's state beside the log so `replay()` restores it and replays only the records
   * after it. Needs a persistence with `writeSnapshot`, `readSnapshot` and `readFrom`.
   */
  snapshots?: SnapshotOptions;
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
  /**
   * Set when the replay started from a stored snapshot: where it ends in the log and how many
   * records (metadata included) it covers. `records` above counts those it stands for too.
   */
  fromSnapshot?: { position: RecordsPosition; records: number };
}

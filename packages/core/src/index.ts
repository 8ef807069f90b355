export {
  AgentRecords,
  type AgentRecordsOptions,
  type ReplayResult,
  type RestoreContext,
  type RestoreFunction,
} from './agent-records.js';
export {
  canRewrite,
  isLegacyPersistence,
  type ToPersistenceOptions,
  toPersistence,
} from './legacy.js';
export type { Migration } from './migrations.js';
export { createRestore, type RestoreHandlers } from './restore-handlers.js';
export type { SnapshotOptions } from './snapshots.js';

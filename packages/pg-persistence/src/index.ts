/** Re-exported from `@agent-records/types`, where the one class shared by every store lives. */
export { RecordsInvalidSessionIdError } from '@agent-records/types';
export {
  PostgresAgentRecordPersistence,
  type PostgresAgentRecordPersistenceOptions,
} from './pg-persistence.js';
export { ensureSchema, SCHEMA_VERSION, type TableNames } from './schema.js';
export { PostgresAgentRecordStore, type PostgresSessionInfo } from './store.js';

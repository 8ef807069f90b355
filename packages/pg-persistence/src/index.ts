export {
  PostgresAgentRecordPersistence,
  type PostgresAgentRecordPersistenceOptions,
  RecordsInvalidSessionIdError,
} from './pg-persistence.js';
export { ensureSchema, SCHEMA_VERSION, type TableNames } from './schema.js';
export { PostgresAgentRecordStore, type PostgresSessionInfo } from './store.js';

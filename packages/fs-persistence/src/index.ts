export { type FileOperations, nodeFileOperations } from './file-operations.js';
export {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from './fs-persistence.js';
export { type LockHolder, readLockHolder } from './lock.js';
export {
  assertSessionId,
  FileSystemAgentRecordStore,
  RecordsInvalidSessionIdError,
  type SessionInfo,
} from './store.js';

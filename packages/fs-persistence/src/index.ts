/** Re-exported from `@agent-records/types`, where the one class shared by every store lives. */
export { RecordsInvalidSessionIdError } from '@agent-records/types';
export { type BlobOptions, blobPath } from './blobs/blob-store.js';
export {
  type BlobGarbageOptions,
  type BlobGarbageReport,
  collectBlobGarbage,
  logFilesIn,
  referencedBlobs,
} from './blobs/gc.js';
export { classifyLogLine, type LogLine } from './block-records.js';
export { type FileOperations, nodeFileOperations } from './file-operations.js';
export {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from './fs-persistence.js';
export {
  type LineBlock,
  MAX_LINE_BYTES,
  type ReadLineBlocksOptions,
  readLineBlocks,
} from './line-reader.js';
export {
  acquireWriterLock,
  type HeldWriterLock,
  type LockHolder,
  type LockHolderState,
  readLockHolder,
  type UnlockResult,
  unlockLog,
} from './lock.js';
export { type FilePosition, logPositionProblem } from './position.js';
export { type RefreshLogSummaryOptions, refreshLogSummary } from './refresh-summary.js';
export {
  readSnapshotFile,
  removeSnapshotFile,
  snapshotPathOf,
} from './snapshot-file.js';
export { assertSessionId, FileSystemAgentRecordStore, type SessionInfo } from './store.js';
export { type LogSummary, readLogSummary, summaryPathOf } from './summary.js';

export {
  AgentRecordsError,
  type AgentRecordsErrorCode,
  isAgentRecordsError,
  RecordsClosedError,
  RecordsConflictError,
  RecordsCorruptError,
  RecordsInvalidError,
  RecordsInvalidSessionIdError,
  RecordsLockedError,
  RecordsOverflowError,
  RecordsPositionError,
  RecordsReplayError,
  RecordsSerializeError,
  RecordsVersionError,
  RecordsWriteError,
} from './errors.js';
export type {
  AgentRecordPersistence,
  LegacyAgentRecordPersistence,
  RecordsBatch,
  RecordsErrorHandler,
  RecordsErrorInfo,
  RecordsErrorKind,
  RecordsPosition,
  SnapshotToWrite,
  StoredSnapshot,
} from './persistence.js';
export { compareProtocolVersions, type ProtocolVersion, parseProtocolVersion } from './protocol.js';
export {
  type AgentMessage,
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordEvents,
  type AgentRecordOf,
  type AgentRecordType,
  type ContentPart,
  type FilePart,
  type ImagePart,
  isMetadataRecord,
  isObservabilityRecord,
  type JsonValue,
  type MetadataRecord,
  OBSERVABILITY_RECORD_TYPES,
  type PromptContent,
  type TextPart,
  type ToolCallPart,
  type ToolDefinition,
  type ToolResultPart,
} from './records.js';
export { assertSessionId, MAX_SESSION_ID_BYTES, sessionIdProblem } from './session-id.js';
export {
  type AgentRecordStore,
  compareByLastActivity,
  type ListSessionsOptions,
  type SessionSummary,
} from './sessions.js';
export { utf8ByteLength } from './utf8.js';
export { assertRecord, recordProblem } from './validate.js';

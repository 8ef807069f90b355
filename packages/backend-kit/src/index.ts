export {
  BLOB_REF_PREFIX,
  BlobCache,
  blobHashesInText,
  blobReplacer,
  collectBlobRefs,
  type DataUriBlob,
  DEFAULT_BLOB_CACHE_CHARS,
  DEFAULT_BLOB_THRESHOLD,
  dataUriBlob,
  dataUriOf,
  decodeCanonicalBase64,
  ESCAPED_BLOB_REF_PREFIX,
  escapeBlobRefLookalike,
  isBlobHash,
  isCanonicalBase64,
  type ParsedBlobRef,
  parseBlobRef,
  replaceBlobRefs,
  restoreBlobRefs,
} from './blob-codec.js';
export {
  asError,
  ErrorReporter,
  type ErrorReporterOptions,
  messageOf,
  printToStderr,
} from './error-reporter.js';
export { failureOf, OneTimeRejection } from './one-time-rejection.js';
export {
  OperationQueue,
  type QueuedBatch,
  type QueueSnapshot,
  type TakeOptions,
} from './operation-queue.js';
export { DEFAULT_MAX_PENDING_BYTES, PendingBytes, utf8ByteLength } from './pending-bytes.js';
export {
  PendingSnapshots,
  type PendingSnapshotsOptions,
  type ReadySnapshot,
} from './pending-snapshots.js';
export { serializeRecord } from './serialize.js';
export { WriterLoop } from './writer-loop.js';

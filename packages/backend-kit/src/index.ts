export {
  asError,
  ErrorReporter,
  type ErrorReporterOptions,
  messageOf,
  printToStderr,
} from './error-reporter.js';
export {
  OperationQueue,
  type QueuedBatch,
  type QueueSnapshot,
  type TakeOptions,
} from './operation-queue.js';
export { DEFAULT_MAX_PENDING_BYTES, PendingBytes, utf8ByteLength } from './pending-bytes.js';
export { serializeRecord } from './serialize.js';
export { WriterLoop } from './writer-loop.js';

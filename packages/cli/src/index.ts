export { buildProgram, main } from './cli.js';
export { gcBlobs, runBlobsGc } from './commands/blobs.js';
export {
  catLog,
  formatRecord,
  matches,
  type PrintOptions,
  parseCount,
  parseSince,
  type RecordFilter,
  runCat,
} from './commands/cat.js';
export { completionScript, runCompletion, SHELLS, type Shell } from './commands/completion.js';
export {
  type InspectReport,
  inspectLog,
  type LogProblem,
  runInspect,
} from './commands/inspect.js';
export { loadMigrations, type MigrateResult, migrateLog, runMigrate } from './commands/migrate.js';
export { type RepairResult, repairLog, runRepair } from './commands/repair.js';
export {
  listSessions,
  runSessions,
  type SessionLock,
  type SessionRow,
} from './commands/sessions.js';
export { type LogStats, runStats, statsLog } from './commands/stats.js';
export { runTail, type TailOptions, tailLog } from './commands/tail.js';
export { runUnlock } from './commands/unlock.js';
export { runValidate, type ValidationResult, validateLog } from './commands/validate.js';
export { parseDuration, parseTime } from './duration.js';
export { CliError, EXIT } from './errors.js';
export { count, formatBytes } from './format.js';
export { type CliIo, processIo } from './io.js';
export { assertLogFile, STDIN } from './log-file.js';
export { MAX_LINE_BYTES, type ScannedLine, type ScanOptions, scanLines } from './scan.js';
export { SnapshotCheck, type SnapshotReport, type UnreadableSnapshot } from './snapshot-check.js';
export { formatTime, summarizeRecord } from './summary.js';
export type { WriteInProgress } from './write-in-progress.js';

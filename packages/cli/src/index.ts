export { buildProgram, main } from './cli.js';
export { gcBlobs, parseDuration } from './commands/blobs.js';
export {
  catLog,
  formatRecord,
  matches,
  type PrintOptions,
  parseSince,
  type RecordFilter,
  tailLog,
} from './commands/cat.js';
export { type InspectReport, inspectLog, type LogProblem } from './commands/inspect.js';
export { loadMigrations, type MigrateResult, migrateLog } from './commands/migrate.js';
export { type RepairResult, repairLog } from './commands/repair.js';
export { listSessions } from './commands/sessions.js';
export { type ValidationResult, validateLog } from './commands/validate.js';
export { CliError, EXIT } from './errors.js';
export { MAX_LINE_BYTES, type ScannedLine, type ScanOptions, scanLines } from './scan.js';
export { formatTime, summarizeRecord } from './summary.js';

/** Every stable error code an agent-records package can raise. */
export type AgentRecordsErrorCode =
  | 'RECORDS_WRITE_FAILED'
  | 'RECORDS_CORRUPT'
  | 'RECORDS_CLOSED'
  | 'RECORDS_LOCKED'
  | 'RECORDS_OVERFLOW'
  | 'RECORDS_VERSION'
  | 'RECORDS_CONFLICT'
  | 'RECORDS_SERIALIZE'
  | 'RECORDS_INVALID'
  | 'RECORDS_INVALID_SESSION_ID'
  | 'RECORDS_REPLAY'
  | 'RECORDS_POSITION';

// A registry-wide symbol, so that `instanceof` still works when an application ends up with two
// copies of this package (the ESM and the CJS build, or two versions side by side).
const BRAND: unique symbol = Symbol.for('@agent-records/error') as never;

/** The base class of every error thrown or reported by agent-records packages. */
export class AgentRecordsError extends Error {
  /** The stable, documented code of this error; match on it rather than on the message. */
  readonly code: AgentRecordsErrorCode;
  /** Set on each subclass to the code its instances carry. */
  static readonly CODE: AgentRecordsErrorCode | undefined = undefined;

  constructor(code: AgentRecordsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    const code = (this as typeof AgentRecordsError).CODE;
    return code === undefined || (value as { code?: unknown }).code === code;
  }
}

/** A write to the backing store failed; `cause` is the underlying error. Retried on each `flush()`. */
export class RecordsWriteError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_WRITE_FAILED';
  declare readonly code: 'RECORDS_WRITE_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORDS_WRITE_FAILED', message, options);
  }
}

/** A stored line or row is not a record. Names the file, the 1-based line and its byte offset. */
export class RecordsCorruptError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_CORRUPT';
  declare readonly code: 'RECORDS_CORRUPT';
  readonly file: string;
  readonly line: number;
  readonly offset: number;
  constructor(
    details: { file: string; line: number; offset: number; reason: string },
    options?: { cause?: unknown },
  ) {
    super(
      'RECORDS_CORRUPT',
      `${details.file}:${details.line}:${details.offset}: ${details.reason}. ` +
        `Run \`agent-records repair ${details.file}\` to move the unreadable line aside ` +
        '(nothing is deleted).',
      options,
    );
    this.file = details.file;
    this.line = details.line;
    this.offset = details.offset;
  }
}

/** The persistence was used after `close()`. */
export class RecordsClosedError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_CLOSED';
  declare readonly code: 'RECORDS_CLOSED';
  constructor(message = 'This persistence is closed; open a new one to write again.') {
    super('RECORDS_CLOSED', message);
  }
}

/** Another live writer holds the log. */
export class RecordsLockedError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_LOCKED';
  declare readonly code: 'RECORDS_LOCKED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORDS_LOCKED', message, options);
  }
}

/**
 * More unwritten data is queued than the configured bound allows. Thrown by `append` for the
 * record it refused; the next `flush()` rejects once per burst of refused records with one whose
 * `dropped` says how many were not stored.
 */
export class RecordsOverflowError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_OVERFLOW';
  declare readonly code: 'RECORDS_OVERFLOW';
  readonly pendingBytes: number;
  readonly maxPendingBytes: number;
  /** How many records were dropped by the bound, for the report a `flush()` rejects with. */
  readonly dropped: number | undefined;
  constructor(pendingBytes: number, maxPendingBytes: number, dropped?: number) {
    const what =
      dropped === undefined
        ? `${pendingBytes} bytes of records are queued and unwritten, over maxPendingBytes ` +
          `(${maxPendingBytes}); the record was not stored.`
        : `${dropped} ${dropped === 1 ? 'record was' : 'records were'} dropped and not stored: ` +
          `queued, unwritten records reached ${pendingBytes} bytes, over maxPendingBytes ` +
          `(${maxPendingBytes}).`;
    super(
      'RECORDS_OVERFLOW',
      `${what} The store is not keeping up or is failing: await flush() to apply ` +
        'backpressure, or raise maxPendingBytes.',
    );
    this.pendingBytes = pendingBytes;
    this.maxPendingBytes = maxPendingBytes;
    this.dropped = dropped;
  }
}

/** A protocol version is malformed, missing, or no migration path leads from it. */
export class RecordsVersionError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_VERSION';
  declare readonly code: 'RECORDS_VERSION';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORDS_VERSION', message, options);
  }
}

/** Another writer changed the log underneath this one (a fencing failure). */
export class RecordsConflictError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_CONFLICT';
  declare readonly code: 'RECORDS_CONFLICT';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORDS_CONFLICT', message, options);
  }
}

/**
 * A read position (from `readFrom`, or the position a snapshot names) does not match the log any
 * more: the log was rewritten, truncated, repaired or replaced since. Nothing is lost: read from
 * the start instead. `AgentRecords.replay()` does so on its own and reports a warning.
 */
export class RecordsPositionError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_POSITION';
  declare readonly code: 'RECORDS_POSITION';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORDS_POSITION', message, options);
  }
}

/** A record could not be serialised to JSON (a cycle, a BigInt...). It was not stored. */
export class RecordsSerializeError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_SERIALIZE';
  declare readonly code: 'RECORDS_SERIALIZE';
  /** The `type` of the refused record, when it had one. */
  readonly recordType: string | undefined;
  constructor(recordType: string | undefined, options?: { cause?: unknown }) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'RECORDS_SERIALIZE',
      `Record ${describeType(recordType)} cannot be serialised to JSON${cause}. It was not ` +
        'stored; the rest of the log is intact. Remove cycles, BigInts and other non-JSON values.',
      options,
    );
    this.recordType = recordType;
  }
}

/** A value is not a record: not an object, no string `type`, or a non-finite `time`. */
export class RecordsInvalidError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_INVALID';
  declare readonly code: 'RECORDS_INVALID';
  /** The `type` of the refused record, when it had one. */
  readonly recordType: string | undefined;
  constructor(recordType: string | undefined, reason: string) {
    super(
      'RECORDS_INVALID',
      `Record ${describeType(recordType)} is invalid: ${reason}. It was not stored; ` +
        'log plain objects with a string `type` and, if set, a finite numeric `time`.',
    );
    this.recordType = recordType;
  }
}

/**
 * A session id a store refuses at `open()` (see `sessionIdProblem`): it could name a path outside
 * the store, no file at all, or a file name too long for the file system. Nothing was touched.
 */
export class RecordsInvalidSessionIdError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_INVALID_SESSION_ID';
  declare readonly code: 'RECORDS_INVALID_SESSION_ID';
  /** The refused id, as given (possibly not a string). */
  readonly sessionId: unknown;
  constructor(sessionId: unknown, reason: string) {
    super(
      'RECORDS_INVALID_SESSION_ID',
      `Invalid session id ${JSON.stringify(String(sessionId)).slice(0, 120)}: ${reason}. Use a ` +
        'plain name such as a UUID; session ids never name a path outside the store.',
    );
    this.sessionId = sessionId;
  }
}

/**
 * The host's `restore` or a migration's `migrateRecord` threw while a log was replayed. Names the
 * record (its 1-based position in the log, its type and, when the backend can tell, the file and
 * line); `cause` is the original error.
 */
export class RecordsReplayError extends AgentRecordsError {
  static override readonly CODE = 'RECORDS_REPLAY';
  declare readonly code: 'RECORDS_REPLAY';
  /** The 1-based position of the record in the log (metadata records included). */
  readonly position: number;
  /** The `type` of the record that broke. */
  readonly recordType: string | undefined;
  /** Which step threw: the host's `restore`, or the migration named in the message. */
  readonly stage: 'restore' | 'migrate';
  /** The log file, when the backend is file based and said so. */
  readonly file: string | undefined;
  /** The 1-based line in `file`, when known. */
  readonly line: number | undefined;
  constructor(
    details: {
      position: number;
      recordType: string | undefined;
      stage: 'restore' | 'migrate';
      /** For `migrate`: the migration, as `'1.0 -> 1.1'`. */
      migration?: string;
      file?: string;
      line?: number;
    },
    options: { cause: unknown },
  ) {
    const where =
      details.file === undefined
        ? ''
        : ` (${details.file}${details.line === undefined ? '' : `:${details.line}`})`;
    const step =
      details.stage === 'restore'
        ? 'the restore function threw'
        : `migration ${details.migration ?? ''} threw`.replace('  ', ' ');
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      'RECORDS_REPLAY',
      `Replaying record #${details.position}${where} of type ${describeType(details.recordType)} ` +
        `failed: ${step} (${cause}). Fix the ${details.stage === 'restore' ? 'restore handler' : 'migration'} ` +
        `for this record type, or inspect the record with \`agent-records cat\`; the log was not changed.`,
      options,
    );
    this.position = details.position;
    this.recordType = details.recordType;
    this.stage = details.stage;
    this.file = details.file;
    this.line = details.line;
  }
}

function describeType(recordType: string | undefined): string {
  return recordType === undefined ? '(without a type)' : JSON.stringify(recordType);
}

/** True for any agent-records error, optionally only for the given code. Safe across copies. */
export function isAgentRecordsError(
  value: unknown,
  code?: AgentRecordsErrorCode,
): value is AgentRecordsError {
  return value instanceof AgentRecordsError && (code === undefined || value.code === code);
}

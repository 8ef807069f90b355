/** Exit codes of the `agent-records` command. */
export const EXIT = {
  ok: 0,
  /** The log has problems (validate, inspect, cat, repair --dry-run found something). */
  problems: 1,
  /** Wrong usage: unknown command or option, missing argument. */
  usage: 2,
  /** The file could not be read or written (missing, permissions, I/O). */
  io: 3,
  /** A live writer holds the log's lock. */
  locked: 4,
  /** Migration failed (module, chain or version problem). */
  migration: 5,
} as const;

/** An error the command reports as one line on stderr with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Turns a file-system error into a message that names the file and what to do. */
export function fileError(file: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new CliError(`${file}: no such file. Check the path.`, EXIT.io);
  if (code === 'EACCES' || code === 'EPERM') {
    return new CliError(`${file}: permission denied. Run as the log's owner.`, EXIT.io);
  }
  if (code === 'EISDIR') return new CliError(`${file}: is a directory, not a log file.`, EXIT.io);
  return new CliError(`${file}: ${(error as Error)?.message ?? String(error)}`, EXIT.io);
}

import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CliError, EXIT, fileError } from './errors.js';

/** The log name that means "read standard input". */
export const STDIN = '-';

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe (fifo)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The one check every command taking a log runs first: the path must be a regular file. A
 * device (`/dev/zero` never ends), a fifo (blocks until a writer comes) or a folder is refused
 * with exit 3 before anything opens it; `stat` never blocks on a fifo. Returns the file's stats.
 * `-` (standard input) passes only for the commands that read a stream (`allowStdin`).
 */
export async function assertLogFile(
  file: string,
  options: { allowStdin?: boolean; allowMissing?: boolean } = {},
): Promise<Stats | null> {
  if (file === STDIN) {
    if (options.allowStdin) return null;
    throw new CliError(
      '- (standard input) is not accepted here: this command needs a log file it can reopen or rewrite. Give its path.',
      EXIT.usage,
    );
  }
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    if (options.allowMissing && (error as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
    throw fileError(file, error);
  }
  if (!info.isFile()) {
    const kind = kindOf(info);
    const hint = info.isDirectory()
      ? ''
      : options.allowStdin
        ? ' To read a stream, pipe it in and give - as the log.'
        : ' Copy it to a regular file first.';
    throw new CliError(
      `${file}: is ${kind}, not a log file: agent-records reads regular JSON Lines files only.${hint}`,
      EXIT.io,
    );
  }
  return info;
}

import { createHash } from 'node:crypto';
import { type RecordsPosition, RecordsPositionError } from '@agent-records/types';
import {
  errorCode,
  type FileOperations,
  nodeFileOperations,
  readFully,
} from './file-operations.js';

/**
 * A place in a log file, as `readFrom` and snapshots name it: flat JSON, opaque to callers.
 *
 * - `offset`: the byte offset right after the last record covered (the end of its line).
 * - `fingerprint`: a short hash of the line before `offset` (its last {@link WINDOW_BYTES} bytes,
 *   its newline included), so a log changed before the offset and written again to the same
 *   length does not match.
 * - `log`: the log file's identity, its inode and a hash of its first line (its first
 *   {@link WINDOW_BYTES} bytes), so a rewritten, repaired or replaced log (a new file, even with
 *   the same first line; or another file that got the old inode) does not match. A log copied
 *   elsewhere does not match either: its snapshots are ignored (a full read), never wrong.
 */
export type FilePosition = {
  readonly offset: number;
  readonly fingerprint: string;
  readonly log: string;
};

/** Bytes of a line hashed into a fingerprint or an identity: enough to tell lines apart, cheap. */
export const WINDOW_BYTES = 4096;
const NEWLINE = 0x0a;

function shortHash(bytes: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const piece of bytes) hash.update(piece);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The fingerprint of the line that ends at a position, from its bytes just before the position
 * (the line's tail, newline included if it has one): the last {@link WINDOW_BYTES} of them are
 * hashed. Pass the line's tail, at least its last {@link WINDOW_BYTES} bytes (more is cut).
 */
export function fingerprintOf(lineTail: Buffer): string {
  return shortHash([lineTail.subarray(Math.max(0, lineTail.length - WINDOW_BYTES))]);
}

/** The identity of a log: its inode and the hash of its first line's first bytes. */
export function identityOf(ino: number | undefined, firstLineHead: Buffer): string {
  const head = firstLineHead.subarray(0, WINDOW_BYTES);
  const cut = head.indexOf(NEWLINE);
  return `${(ino ?? 0).toString(36)}-${shortHash([cut === -1 ? head : head.subarray(0, cut)])}`;
}

/** The inode part of an identity (see {@link identityOf}). */
const inodeOf = (identity: string) => identity.slice(0, identity.indexOf('-'));

/**
 * The identity of the log open at `fd`, reading at most its first `limit` bytes (a position's
 * offset: the first line ends there or before it, so the result does not depend on the offset).
 */
export async function logIdentity(ops: FileOperations, fd: number, limit: number): Promise<string> {
  const { ino, head } = await logHead(ops, fd, limit);
  return identityOf(ino, head);
}

/** What {@link logIdentity} hashes: the file's inode and its first bytes (up to `limit`). */
async function logHead(
  ops: FileOperations,
  fd: number,
  limit: number,
): Promise<{ ino: number | undefined; head: Buffer }> {
  const { ino } = await ops.fstat(fd);
  const head = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, limit));
  await readFully(ops, fd, head, 0);
  return { ino, head };
}

/** What the file holds just before `offset`: the line-end check and the fingerprint's bytes. */
async function lineBefore(
  ops: FileOperations,
  fd: number,
  offset: number,
  end: number,
): Promise<{ fingerprint: string; atLineEnd: boolean }> {
  const { lineTail, atLineEnd } = await bytesBefore(ops, fd, offset, end);
  return { fingerprint: fingerprintOf(lineTail), atLineEnd };
}

/** {@link lineBefore}'s bytes: the tail of the line before `offset`, and the line-end check. */
async function bytesBefore(
  ops: FileOperations,
  fd: number,
  offset: number,
  end: number,
): Promise<{ lineTail: Buffer; atLineEnd: boolean }> {
  const from = Math.max(0, offset - WINDOW_BYTES - 1);
  const window = Buffer.allocUnsafe(Math.min(offset + 1, end) - from);
  await readFully(ops, fd, window, 0 + from);
  const before = window.subarray(0, offset - from);
  // The line before the offset starts after the newline before its own last byte.
  const start = before.subarray(0, before.length - 1).lastIndexOf(NEWLINE) + 1;
  const after = offset < end ? window[offset - from] : undefined;
  // A position ends a line: right after its newline, or right before one the writer added
  // later to a last line that had none (or at the end of such a line).
  const atLineEnd =
    before[before.length - 1] === NEWLINE || after === undefined || after === NEWLINE;
  return { lineTail: before.subarray(start), atLineEnd };
}

/** The position at `offset` (a line end) of the log open at `fd`, whose size is at least `end`. */
export async function positionAt(
  ops: FileOperations,
  fd: number,
  offset: number,
  end: number,
): Promise<FilePosition> {
  // The start of the log: only the file counts (a rewrite makes another one), not its lines.
  if (offset === 0) return { offset: 0, fingerprint: '', log: await logIdentity(ops, fd, 0) };
  const { fingerprint } = await lineBefore(ops, fd, offset, end);
  return { offset, fingerprint, log: await logIdentity(ops, fd, offset) };
}

/**
 * Reads a position as `readFrom` is given it. Anything but what this backend hands out (another
 * backend's position, a hand-edited one) is a `RecordsPositionError` saying so.
 */
export function asFilePosition(file: string, position: RecordsPosition): FilePosition {
  const { offset, fingerprint, log } = position as Record<string, unknown>;
  if (
    typeof offset !== 'number' ||
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    typeof fingerprint !== 'string' ||
    typeof log !== 'string'
  ) {
    throw new RecordsPositionError(
      `${JSON.stringify(position)} is not a position in the log file ${file} (it needs ` +
        'offset, fingerprint and log, as readFrom and readSnapshot give them). Read the whole ' +
        'log instead (readFrom(null)).',
    );
  }
  return { offset, fingerprint, log };
}

/**
 * Checks that `position` is still a place in the log open at `fd` (read up to `end`, its durable
 * end), and throws `RecordsPositionError` saying why not (see {@link positionMismatch}). The
 * remedy is the same for all: read the whole log.
 */
export async function checkPosition(
  ops: FileOperations,
  fd: number,
  end: number,
  file: string,
  position: FilePosition,
): Promise<void> {
  const why = await positionMismatch(ops, fd, end, position);
  if (why === null) return;
  throw new RecordsPositionError(
    `The position at byte ${position.offset} of ${file} no longer matches the log: ${why}. ` +
      'Whatever was derived up to it (a snapshot) is out of date; read the whole log instead ' +
      '(readFrom(null)).',
  );
}

/**
 * Why `position` is no longer a place in the log open at `fd`, or null when it still is: the log
 * is shorter than the position (truncated), it is another file (rewritten, repaired, replaced),
 * or the line before the position changed.
 */
export async function positionMismatch(
  ops: FileOperations,
  fd: number,
  end: number,
  position: FilePosition,
): Promise<string | null> {
  const anotherFile = 'it is another file now (the log was rewritten, repaired or replaced since)';
  if (position.offset === 0) {
    // Before every record. A position without an identity is the start of any log; one taken
    // of an empty log names that file, which a rewrite replaces.
    if (position.log === '') return null;
    const identity = await logIdentity(ops, fd, 0);
    return inodeOf(identity) !== inodeOf(position.log) ? anotherFile : null;
  }
  if (position.offset > end) {
    return `the log holds ${end} bytes (it was truncated, rewritten or repaired since)`;
  }
  const identity = await logIdentity(ops, fd, position.offset);
  if (identity !== position.log) return anotherFile;
  const line = await lineBefore(ops, fd, position.offset, end);
  if (!line.atLineEnd || line.fingerprint !== position.fingerprint) {
    return 'the line before it changed (the log was rewritten or repaired in place)';
  }
  return null;
}

/** Where a read of a log that does not exist, or is empty, stands: any empty log matches it. */
export const EMPTY_LOG: FilePosition = { offset: 0, fingerprint: '', log: '' };

/**
 * The log as a read saw it: the position at `end`, the stable end it read to (a torn last line
 * left out, see `stableEnd`), of the log open at `fd`. An empty log is {@link EMPTY_LOG}.
 * The same position as {@link positionAt}'s, with its bytes read now and its two hashes worked
 * out when first asked for: only the writer's first open after the read asks (a read that is
 * not followed by a write never does), and the first sha256 of a process costs ~2M
 * instructions of compiling Node's crypto code, which a replay need not wait for.
 */
export async function positionRead(
  ops: FileOperations,
  fd: number,
  end: number,
): Promise<FilePosition> {
  if (end === 0) return EMPTY_LOG;
  const { lineTail } = await bytesBefore(ops, fd, end, end);
  const { ino, head } = await logHead(ops, fd, end);
  let fingerprint: string | undefined;
  let log: string | undefined;
  return {
    offset: end,
    get fingerprint() {
      fingerprint ??= fingerprintOf(lineTail);
      return fingerprint;
    },
    get log() {
      log ??= identityOf(ino, head);
      return log;
    },
  };
}

/**
 * Whether `position` (from a snapshot, or a batch's `end`) is still a place in the log file, for
 * tools without a persistence (the CLI's `validate`): null when it is, else why not, in words
 * for a person (the same check as `readFrom`, without its advice to programs). The log is read as
 * it is on disk, up to its size.
 */
export async function logPositionProblem(
  logFile: string,
  position: RecordsPosition,
  ops: FileOperations = nodeFileOperations,
): Promise<string | null> {
  let fd: number | null = null;
  try {
    const at = asFilePosition(logFile, position);
    try {
      fd = await ops.open(logFile, 'r');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      return at.offset === 0 && at.log === '' ? null : `${logFile} does not exist`;
    }
    return await positionMismatch(ops, fd, (await ops.fstat(fd)).size, at);
  } catch (error) {
    if (error instanceof RecordsPositionError) return error.message;
    throw error;
  } finally {
    if (fd !== null) await ops.close(fd).catch(() => {});
  }
}

import { classifyLogLine } from './block-records.js';
import { type FileOperations, readFully } from './file-operations.js';

const STEP = 64 * 1024;

export interface TailState {
  /** File size. */
  size: number;
  /** Offset just past the last newline (0 when there is none). */
  lastLineStart: number;
  /** The bytes after the last newline: empty when the file ends with `\n`. */
  tail: Buffer;
  /**
   * The tail is a complete line that merely lacks its newline (another writer's style): not torn
   * by the log line rule (`classifyLogLine`), which the reader applies to it too. Whether it is a
   * record is the reader's call (it reports a non-record as corrupt, like any other bad line);
   * only text that does not parse is torn.
   */
  tailIsComplete: boolean;
  /** Set when the tail is longer than `maxTailBytes`: it was not read (`tail` is empty). */
  tooLong?: true;
}

/**
 * Looks at the end of a log: does it end with a newline, a complete record, or a torn write?
 * A reader passes `maxTailBytes` so that a huge unterminated line is not gathered in memory.
 */
export async function inspectTail(
  ops: FileOperations,
  fd: number,
  maxTailBytes = Number.POSITIVE_INFINITY,
): Promise<TailState> {
  const { size } = await ops.fstat(fd);
  if (size === 0) return { size, lastLineStart: 0, tail: Buffer.alloc(0), tailIsComplete: false };
  const pieces: Buffer[] = [];
  let end = size;
  let lastLineStart = 0;
  while (end > 0) {
    const start = Math.max(0, end - STEP);
    const piece = Buffer.allocUnsafe(end - start);
    await readFully(ops, fd, piece, start);
    const newline = piece.lastIndexOf(0x0a);
    if (newline !== -1) {
      pieces.unshift(piece.subarray(newline + 1));
      lastLineStart = start + newline + 1;
      break;
    }
    pieces.unshift(piece);
    end = start;
    if (size - end > maxTailBytes) {
      return {
        size,
        lastLineStart: 0,
        tail: Buffer.alloc(0),
        tailIsComplete: false,
        tooLong: true,
      };
    }
  }
  const tail = Buffer.concat(pieces);
  return {
    size,
    lastLineStart,
    tail,
    tailIsComplete:
      tail.length > 0 &&
      classifyLogLine(tail, { fileStart: lastLineStart === 0, complete: false }).kind !== 'torn',
  };
}

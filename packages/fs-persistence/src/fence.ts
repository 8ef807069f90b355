import type { FileOperations } from './file-operations.js';
import { type FilePosition, positionMismatch } from './position.js';
import { stableEnd } from './reader.js';

/**
 * Why the log open at `fd` is no longer the one a read saw (`read`, from `positionRead`), or
 * null when it still is: the same rule as a position's (another file, cut shorter, the line
 * before it changed), and no longer than it was: bytes past a read's end are another writer's
 * records. Its stable end is compared, the end a read stops at, so a torn last line (which the
 * writer's own first open cuts) is no difference. Checked by the writer's first open after a
 * read, under the lock (see `LogWriter.expect`): nobody else appends then.
 */
export async function divergenceFrom(
  ops: FileOperations,
  fd: number,
  read: FilePosition,
): Promise<string | null> {
  const end = (await stableEnd(ops, fd)) ?? (await ops.fstat(fd)).size;
  const why = await positionMismatch(ops, fd, end, read);
  if (why !== null) return why;
  if (end > read.offset) {
    return `it holds ${end - read.offset} bytes more than were read (another writer appended since)`;
  }
  return null;
}

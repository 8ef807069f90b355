import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { type FileOperations, syncDirectory, writeFully } from './file-operations.js';
import { realLogPath } from './recovery.js';

/** Bytes converted and written per write call, so no single step stalls the event loop. */
export const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Replaces a whole log atomically: writes the new content to a temp file beside it (exclusive
 * create, random name), fdatasyncs it, renames it over the log and fsyncs the directory, so a
 * crash leaves the old log or the new one, never a mix or nothing. A log that is a symlink stays
 * one: the file it points to (resolved now, it may have been re-pointed) is replaced, from a
 * temp file in that file's directory. `serialize` may throw (a record it refuses): the temp file
 * is removed and the old log stays. `beforeRename` runs once the content is durable (blobs the
 * lines point at must be durable before the lines are). Returns the new log's size in bytes.
 */
export async function replaceAtomically<R>(
  ops: FileOperations,
  file: string,
  fileMode: number,
  records: readonly R[],
  serialize: (record: R) => string,
  beforeRename: () => Promise<void>,
): Promise<number> {
  const target = await realLogPath(ops, file);
  const dir = path.dirname(target);
  const temp = path.join(dir, `.${path.basename(target)}.${randomUUID()}.rewrite.tmp`);
  const fd = await ops.open(temp, 'wx', fileMode);
  let closed = false;
  try {
    let position = 0;
    for (let i = 0; i < records.length; ) {
      let text = '';
      while (i < records.length && text.length < WRITE_CHUNK_BYTES) {
        text += `${serialize(records[i++] as R)}\n`;
      }
      const buffer = Buffer.from(text, 'utf8');
      await writeFully(ops, fd, buffer, position);
      position += buffer.length;
    }
    await ops.fdatasync(fd);
    closed = true;
    await ops.close(fd);
    await beforeRename();
    await ops.rename(temp, target);
    await syncDirectory(ops, dir);
    return position;
  } catch (error) {
    if (!closed) await ops.close(fd).catch(() => {});
    // Once renamed, the temp name no longer exists: unlinking it is a harmless ENOENT.
    await ops.unlink(temp).catch(() => {});
    throw error;
  }
}

import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RecordsPosition, StoredSnapshot } from '@agent-records/types';
import {
  errorCode,
  type FileOperations,
  nodeFileOperations,
  syncDirectory,
  writeFully,
} from './file-operations.js';

/** The snapshot file of a log: `<log>.snapshot`, beside it (beside the link, for a symlink). */
export function snapshotPathOf(logFile: string): string {
  return `${logFile}.snapshot`;
}

const MAGIC = 'agent-records-snapshot';
const VERSION = 1;
const FIRST_LINE = /^agent-records-snapshot (\d+) ([0-9a-f]{64})$/;

/**
 * A snapshot file, self-describing and checked:
 *
 * ```
 * agent-records-snapshot 1 <sha256 of everything after this line, hex>
 * {"position":{...},"records":N,"writtenAt":T,"bytes":B}
 * <data: B bytes of UTF-8, as given to writeSnapshot>
 * ```
 *
 * A torn or damaged file fails the checksum (or the size) and reads as unusable, never as a
 * snapshot with the wrong content.
 */
export function encodeSnapshot(snapshot: StoredSnapshot): Buffer {
  const header = JSON.stringify({
    position: snapshot.position,
    records: snapshot.records,
    writtenAt: snapshot.writtenAt,
    bytes: snapshot.bytes,
  });
  const body = Buffer.from(`${header}\n${snapshot.data}`, 'utf8');
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${VERSION} ${sum}\n`, 'utf8'), body]);
}

/** A snapshot file's bytes as a snapshot, or why they are not one. */
export function decodeSnapshot(bytes: Buffer): StoredSnapshot | { problem: string } {
  const firstEnd = bytes.indexOf(0x0a);
  const first = bytes.subarray(0, firstEnd === -1 ? Math.min(bytes.length, 200) : firstEnd);
  const match = FIRST_LINE.exec(first.toString('latin1'));
  if (firstEnd === -1 || !match) return { problem: 'it does not start like a snapshot file' };
  if (Number(match[1]) !== VERSION) {
    return { problem: `it is format version ${match[1]}; this code reads version ${VERSION}` };
  }
  const body = bytes.subarray(firstEnd + 1);
  if (createHash('sha256').update(body).digest('hex') !== match[2]) {
    return { problem: 'its checksum does not match (a torn or damaged file)' };
  }
  const headerEnd = body.indexOf(0x0a);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(body.subarray(0, headerEnd).toString('utf8'));
  } catch {
    return { problem: 'its header is not JSON' };
  }
  const data = body.subarray(headerEnd + 1);
  const { position, records, writtenAt } = header;
  if (
    headerEnd === -1 ||
    typeof position !== 'object' ||
    position === null ||
    !Number.isSafeInteger(records) ||
    !Number.isFinite(writtenAt) ||
    header.bytes !== data.length
  ) {
    return { problem: 'its header does not describe its content' };
  }
  return {
    position: position as RecordsPosition,
    records: records as number,
    writtenAt: writtenAt as number,
    bytes: data.length,
    data: data.toString('utf8'),
  };
}

/**
 * The snapshot stored beside a log: null when there is none, `{ problem }` when the file cannot
 * be read as one (torn, damaged, another format version). Not checked against the log: reading
 * from its position does that.
 */
export async function readSnapshotFile(
  logFile: string,
): Promise<StoredSnapshot | { problem: string } | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(snapshotPathOf(logFile));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    return { problem: `it cannot be read (${(error as Error).message})` };
  }
  return decodeSnapshot(bytes);
}

/**
 * Writes a snapshot to a temp file beside where it goes (exclusive create, random name) and
 * fsyncs it; {@link commitSnapshotFile} renames it in. Returns the temp file's path.
 */
export async function prepareSnapshotFile(
  ops: FileOperations,
  logFile: string,
  snapshot: StoredSnapshot,
  fileMode: number,
): Promise<string> {
  const target = snapshotPathOf(logFile);
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(logFile)}.${randomUUID()}.snapshot.tmp`,
  );
  const fd = await ops.open(temp, 'wx', fileMode);
  try {
    await writeFully(ops, fd, encodeSnapshot(snapshot), 0);
    await ops.fsync(fd);
  } catch (error) {
    await ops.close(fd).catch(() => {});
    await ops.unlink(temp).catch(() => {});
    throw error;
  }
  await ops.close(fd);
  return temp;
}

/** Renames a prepared snapshot in over the previous one and syncs the folder. */
export async function commitSnapshotFile(
  ops: FileOperations,
  logFile: string,
  temp: string,
): Promise<void> {
  const target = snapshotPathOf(logFile);
  try {
    await ops.rename(temp, target);
  } catch (error) {
    await ops.unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(ops, path.dirname(target));
}

/**
 * Removes the snapshot beside a log, durably (the folder is synced), so that a crash right after
 * cannot bring it back. Call it BEFORE replacing or repairing the log: a crash between the two
 * then leaves the old log without a snapshot (a full replay), never a new log beside an old
 * snapshot. Returns false when there was none.
 */
export async function removeSnapshotFile(
  logFile: string,
  ops: FileOperations = nodeFileOperations,
): Promise<boolean> {
  const target = snapshotPathOf(logFile);
  try {
    await ops.unlink(target);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  await syncDirectory(ops, path.dirname(target));
  return true;
}

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
 * snapshot with the wrong content. The first line has a fixed length, so a writer can write the
 * rest first (hashing it as it goes) and the first line last ({@link writeSnapshotContent}).
 */
export function encodeSnapshot(snapshot: StoredSnapshot): Buffer {
  const body = Buffer.from(`${headerLine(snapshot)}${snapshot.data}`, 'utf8');
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(firstLine(sum), 'latin1'), body]);
}

function firstLine(sum: string): string {
  return `${MAGIC} ${VERSION} ${sum}\n`;
}

/** The first line's length in bytes (the checksum is always 64 hex digits). */
const FIRST_LINE_BYTES = firstLine('0'.repeat(64)).length;

function headerLine(snapshot: StoredSnapshot): string {
  const header = JSON.stringify({
    position: snapshot.position,
    records: snapshot.records,
    writtenAt: snapshot.writtenAt,
    bytes: snapshot.bytes,
  });
  return `${header}\n`;
}

/**
 * UTF-16 units of data encoded, hashed and written per slice: about half a megabyte, a
 * millisecond or two of work between two turns of the event loop. Encoding, hashing and writing
 * a 20 MB snapshot in one go held the event loop for 100-160 ms.
 */
export const SNAPSHOT_SLICE_UNITS = 512 * 1024;

/**
 * Writes {@link encodeSnapshot}'s bytes to `fd` without holding the event loop: the data is
 * encoded to UTF-8 a slice at a time (never cutting a surrogate pair, so the bytes are those of
 * the whole string), each slice hashed and written at its place before the next, and the first
 * line, which carries the checksum of all of it, written last at offset 0.
 */
export async function writeSnapshotContent(
  ops: FileOperations,
  fd: number,
  snapshot: StoredSnapshot,
  sliceUnits = SNAPSHOT_SLICE_UNITS,
): Promise<void> {
  const hash = createHash('sha256');
  let at = FIRST_LINE_BYTES;
  const append = async (bytes: Buffer) => {
    hash.update(bytes);
    await writeFully(ops, fd, bytes, at);
    at += bytes.length;
  };
  await append(Buffer.from(headerLine(snapshot), 'utf8'));
  const data = snapshot.data;
  let dataBytes = 0;
  for (let start = 0; start < data.length; ) {
    let end = Math.min(start + sliceUnits, data.length);
    // A high surrogate goes with what follows it: each half of a pair alone would encode as U+FFFD.
    if (end < data.length && isHighSurrogate(data.charCodeAt(end - 1))) end++;
    const bytes = Buffer.from(data.slice(start, end), 'utf8');
    dataBytes += bytes.length;
    await append(bytes);
    start = end;
    // The write already waited for the thread pool; this keeps a write that completes at once
    // (an injected fault seam, a cache) from running every slice in one tick.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (dataBytes !== snapshot.bytes) {
    // The header would promise another size: the file would read as damaged. Better not stored.
    throw new Error(
      `The snapshot's data is ${dataBytes} bytes of UTF-8, not the ${snapshot.bytes} it was given as; it was not stored.`,
    );
  }
  await writeFully(ops, fd, Buffer.from(firstLine(hash.digest('hex')), 'latin1'), 0);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
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
    await writeSnapshotContent(ops, fd, snapshot);
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

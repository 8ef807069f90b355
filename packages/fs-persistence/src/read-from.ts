import {
  type AgentRecordEnvelope,
  type RecordsBatch,
  RecordsCorruptError,
  type RecordsPosition,
  RecordsPositionError,
} from '@agent-records/types';
import { recordsOfBlock } from './block-records.js';
import type { FileOperations } from './file-operations.js';
import { countLinesIn, type LineBlock, readLineBlocks } from './line-reader.js';
import {
  asFilePosition,
  checkPosition,
  type FilePosition,
  fingerprintOf,
  logIdentity,
  WINDOW_BYTES,
} from './position.js';
import {
  openView,
  queuedRewriteBatches,
  RESTORED_CHARS_PER_BATCH,
  type ReadSource,
  recordsOfQueuedLines,
} from './reader.js';

const NEWLINE = 0x0a;
const NEWLINE_BYTE = Buffer.from([NEWLINE]);

/**
 * The `readFrom` capability: the records after `position` (from the start when `null`), in
 * batches with the position after each. The position is checked when the iteration starts,
 * against the same view of the file and the queue that `read()` takes (see `openView`); a
 * mismatch rejects the first `next()` with `RecordsPositionError`. Then the durable records
 * after it, a batch per chunk of the file, each with its `end`; then what is queued and not
 * written (a queued rewrite, appends), with `end: null`. Memory: one chunk of the file.
 */
export async function* readFromPosition<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
  position: RecordsPosition | null,
): AsyncGenerator<RecordsBatch<R>> {
  const from = position === null ? null : asFilePosition(source.file, position);
  const { fd, view } = await openView(source);
  try {
    if (fd !== null) {
      const end = view.durableEnd ?? (await source.ops.fstat(fd)).size;
      if (from) await checkPosition(source.ops, fd, end, source.file, from);
      yield* durableBatches(source, fd, from?.offset ?? 0, end);
    } else if (from && (from.offset > 0 || from.log !== '')) {
      throw new RecordsPositionError(
        view.base
          ? `A rewrite of ${source.file} is queued: the position at byte ${from.offset} is in ` +
              'the log it replaces. Read the whole log instead (readFrom(null)).'
          : `${source.file} does not exist (deleted or moved): the position at byte ` +
              `${from.offset} is in a log that is gone. Read the whole log instead (readFrom(null)).`,
      );
    }
    // What is queued and not written comes last, in one batch: it has no position yet.
    const queued: R[] = [];
    if (view.base)
      for (const records of queuedRewriteBatches(source, view.base)) queued.push(...records);
    for (const bytes of view.pending) {
      for (const record of recordsOfQueuedLines<R>(bytes)) queued.push(record);
    }
    if (queued.length > 0) yield { records: await restored(source, queued), end: null };
  } finally {
    if (fd !== null) await source.ops.close(fd).catch(() => {});
  }
}

/** Restores blob references in place (a batch of queued records is already in memory). */
async function restored<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
  records: R[],
): Promise<R[]> {
  if (source.blobs) for (const record of records) await source.blobs.restore(record);
  return records;
}

/**
 * The durable records from `start` (a line start) to `end`, a batch per block of lines. With
 * blobs, a block is cut into smaller batches before it holds more than a few restored images,
 * each with the position after its last record.
 */
async function* durableBatches<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
  fd: number,
  start: number,
  end: number,
): AsyncGenerator<RecordsBatch<R>> {
  const { ops, file, blobs } = source;
  let log: string | null = null;
  const positionOf = async (offset: number, lineTail: Buffer): Promise<FilePosition> => {
    log ??= await logIdentity(ops, fd, offset);
    return { offset, fingerprint: fingerprintOf(lineTail), log };
  };
  for await (const block of readLineBlocks(ops, fd, { start, end })) {
    const lines: number[] | undefined = blobs ? [] : undefined;
    let records: R[];
    try {
      records = recordsOfBlock(block, file, start === 0, lines) as R[];
    } catch (error) {
      throw await withFileLineNumber(ops, fd, file, block, start, error);
    }
    if (records.length === 0) continue; // blank lines, or a torn last line
    const blockEnd = lineEndIn(block, null);
    if (!blobs || !lines) {
      yield { records, end: await positionOf(blockEnd.offset, blockEnd.tail) };
      continue;
    }
    let first = 0;
    let chars = 0;
    for (let i = 0; i < records.length; i++) {
      chars += await blobs.restore(records[i] as R);
      if (chars >= RESTORED_CHARS_PER_BATCH && i < records.length - 1) {
        const cut = lineEndIn(block, lines[i] as number);
        yield { records: records.slice(first, i + 1), end: await positionOf(cut.offset, cut.tail) };
        first = i + 1;
        chars = 0;
      }
    }
    const rest = first === 0 ? records : records.slice(first);
    yield { records: rest, end: await positionOf(blockEnd.offset, blockEnd.tail) };
  }
}

/**
 * The end of line `index` of a block (`null`: its last line) as a byte offset in the file, with
 * the tail of that line (newline included) that a fingerprint hashes. A block's lines are
 * joined by newlines; its last line has one after it unless it is the file's unterminated end.
 */
function lineEndIn(block: LineBlock, index: number | null): { offset: number; tail: Buffer } {
  const bytes = block.bytes;
  let lineStart = 0;
  let lineEnd = -1;
  if (index === null) {
    lineStart = bytes.lastIndexOf(NEWLINE) + 1;
  } else {
    for (let seen = 0; seen < index; seen++) lineStart = bytes.indexOf(NEWLINE, lineStart) + 1;
    lineEnd = bytes.indexOf(NEWLINE, lineStart);
  }
  if (lineEnd !== -1) {
    return {
      offset: block.offset + lineEnd + 1,
      tail: bytes.subarray(Math.max(lineStart, lineEnd + 1 - WINDOW_BYTES), lineEnd + 1),
    };
  }
  const last = bytes.subarray(Math.max(lineStart, bytes.length - WINDOW_BYTES));
  return block.complete
    ? { offset: block.offset + bytes.length + 1, tail: Buffer.concat([last, NEWLINE_BYTE]) }
    : { offset: block.offset + bytes.length, tail: last };
}

/**
 * A corrupt line found reading from a position is numbered from that position; the error must
 * name its line in the file. Only on this error path are the lines before the position counted.
 */
async function withFileLineNumber(
  ops: FileOperations,
  fd: number,
  file: string,
  block: LineBlock,
  start: number,
  error: unknown,
): Promise<unknown> {
  if (start === 0 || !(error instanceof RecordsCorruptError)) return error;
  const before = ((await countLinesIn(ops, fd, 0, start)) as { newlines: number }).newlines;
  try {
    recordsOfBlock({ ...block, firstLine: block.firstLine + before }, file, false);
  } catch (renumbered) {
    return renumbered;
  }
  return error;
}

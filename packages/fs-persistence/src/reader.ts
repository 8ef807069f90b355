import type { QueuedBatch } from '@agent-records/backend-kit';
import type { AgentRecordEnvelope } from '@agent-records/types';
import type { BlobStore } from './blobs/blob-store.js';
import { recordBatchesOfBlock } from './block-records.js';
import { errorCode, type FileOperations } from './file-operations.js';
import { lineBlocks, MAX_LINE_BYTES } from './line-reader.js';
import { EMPTY_LOG, type FilePosition, positionRead } from './position.js';
import { inspectTail } from './tail.js';
import type { WriterState } from './writer.js';

const NEWLINE = 0x0a;

/** Characters of restored blobs after which a read yields the records it has so far. */
export const RESTORED_CHARS_PER_BATCH = 4 * 1024 * 1024;
/**
 * Bytes a read asks the file for at a time (two such buffers take turns, see readLineBlocks). The
 * host's event loop gets a turn only between reads, so this bounds the stall a replay causes:
 * 256 KiB kept the bench's longest stall at 6-9 ms; 1 MiB (a quarter as many reads and turns) made
 * it 17-19 ms for no wall-time gain that showed above the noise (interleaved runs, 2026-11-29).
 */
const READ_CHUNK_BYTES = 256 * 1024;
/** Records of a queued rewrite converted per batch. */
const REWRITE_RECORDS_PER_BATCH = 1000;

/** What a read needs of one persistence instance. */
export interface ReadSource<R extends AgentRecordEnvelope> {
  file: string;
  ops: FileOperations;
  blobs: BlobStore | null;
  writer: WriterState;
  /**
   * The queued and in-flight work, oldest first, taken at the instant it is called; each batch's
   * appends as the bytes the writer will write (whole lines, each with its newline).
   */
  queued(): readonly QueuedBatch<R, Buffer>[];
  /** How a queued rewrite's records become lines (as the writer will write them). */
  serialize(record: R): string;
  /** The refusal the writer will meet writing these records, if any. */
  refusalIn(records: readonly R[]): Promise<Error | null>;
  /**
   * Hears where a read of the file, before this instance writes it, stands (the fence the
   * writer's first open checks): the end it reads to, or `EMPTY_LOG` for no log.
   */
  read?(log: FilePosition): void;
}

/** What a reader adds to the file: a rewrite to read instead of it, then lines after. */
interface QueuedView<R> {
  base: readonly R[] | null;
  /** The queued lines' bytes (see {@link recordsOfQueuedLines}). */
  pending: Buffer[];
}

/** The log the queued work will leave, rewrites in `refused` read as if never called. */
function viewOf<R>(
  batches: readonly QueuedBatch<R, Buffer>[],
  refused: ReadonlySet<readonly R[]>,
): QueuedView<R> {
  let base: readonly R[] | null = null;
  let pending: Buffer[] = [];
  for (const batch of batches) {
    if (batch.rewrite && !refused.has(batch.rewrite)) {
      base = batch.rewrite;
      pending = [];
    }
    for (const bytes of batch.appends) pending.push(bytes);
  }
  return { base, pending };
}

/**
 * The records of queued lines' bytes (see `PendingLines`): lines this backend serialised itself,
 * so each is a record; decoded a line at a time.
 */
export function recordsOfQueuedLines<R>(bytes: Buffer): R[] {
  const records: R[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    records.push(JSON.parse(bytes.toString('utf8', start, end)) as R);
    start = end + 1;
  }
  return records;
}

export interface ReadView<R> extends QueuedView<R> {
  generation: number;
  opens: number;
  durableEnd: number | undefined;
}

/**
 * Every durable and queued record, in order, in arrays (one await per chunk of the file): the
 * file up to an end the writer will not change, then what is in flight or queued, from memory,
 * as one consistent view. Blob references are restored on the way.
 */
export function readQueuedAndDurable<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
): AsyncGenerator<R[]> {
  // Every level of async generators costs each batch a few promise turns: without blobs (the
  // usual case) the caller iterates rawBatches itself, one level for the whole read.
  const batches = rawBatches(source);
  return source.blobs ? restoredBatches(source.blobs, batches) : batches;
}

/**
 * Takes the writer's state at one instant and opens the file to match it. Starts over when,
 * while the file was being opened, a rewrite landed or the writer first opened the file (it may
 * have written the queued records by then: they would be read twice).
 */
export async function openView<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
): Promise<{ fd: number | null; view: ReadView<R> }> {
  const { writer, ops } = source;
  // A queued rewrite the writer will refuse is read as it will leave the log: as if it had never
  // been called (as on the in-memory backend), rather than failing the read on its bad record.
  const refused = new Set<readonly R[]>();
  const checked = new Set<readonly R[]>();
  for (;;) {
    while (writer.opening) await writer.opening.catch(() => {});
    const view: ReadView<R> = {
      generation: writer.generation,
      opens: writer.opens,
      durableEnd: writer.durableEnd,
      ...viewOf(source.queued(), refused),
    };
    if (view.base) {
      if (checked.has(view.base)) return { fd: null, view };
      const refusal = await source.refusalIn(view.base);
      (refusal ? refused : checked).add(view.base);
      continue; // the writer may have moved on meanwhile: take its state again
    }
    let fd: number | null = null;
    let read: FilePosition | undefined;
    try {
      fd = await ops.open(source.file, 'r');
      // Not written by this instance yet: stop before a torn last line, the only bytes the
      // writer's first open may change (it cuts them and appends in their place).
      if (view.durableEnd === undefined) {
        view.durableEnd = await stableEnd(ops, fd);
        if (source.read && view.durableEnd !== undefined) {
          read = await positionRead(ops, fd, view.durableEnd);
        }
      }
    } catch (error) {
      if (fd !== null) await ops.close(fd).catch(() => {});
      if (errorCode(error) !== 'ENOENT') throw error;
      fd = null;
      if (view.durableEnd === undefined) read = EMPTY_LOG;
    }
    if (view.generation === writer.generation && view.opens === writer.opens) {
      if (read) source.read?.(read);
      return { fd, view };
    }
    if (fd !== null) await ops.close(fd).catch(() => {});
  }
}

/** The end of the file's last complete line (or of a last line that is complete JSON). */
export async function stableEnd(ops: FileOperations, fd: number): Promise<number | undefined> {
  try {
    const tail = await inspectTail(ops, fd, MAX_LINE_BYTES);
    // An over-long last line is read to its end, where the line reader reports it.
    return tail.tooLong || tail.tailIsComplete ? tail.size : tail.lastLineStart;
  } catch (error) {
    if (errorCode(error) !== undefined) throw error;
    return undefined; // the file shrank meanwhile (another process cut its torn tail): read it all
  }
}

/** The records of the view taken when the first batch is asked for (see readQueuedAndDurable). */
async function* rawBatches<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
): AsyncGenerator<R[]> {
  const { fd, view } = await openView(source);
  try {
    if (fd !== null) {
      // Lines are counted here, as the pieces are split, not by the line reader as well.
      const count = { next: 1 };
      const options = { end: view.durableEnd, chunkSize: READ_CHUNK_BYTES };
      for await (const block of lineBlocks(source.ops, fd, options, false)) {
        for (const batch of recordBatchesOfBlock(block, source.file, true, count)) {
          if (batch.length > 0) yield batch as R[];
        }
      }
    } else if (view.base) {
      yield* queuedRewriteBatches(source, view.base);
    }
    for (const bytes of view.pending) yield recordsOfQueuedLines<R>(bytes);
  } finally {
    if (fd !== null) await source.ops.close(fd).catch(() => {});
  }
}

/** A queued rewrite's records as a read sees them: as the writer will write them, in chunks. */
export function* queuedRewriteBatches<R extends AgentRecordEnvelope>(
  source: ReadSource<R>,
  base: readonly R[],
): Generator<R[]> {
  for (let i = 0; i < base.length; i += REWRITE_RECORDS_PER_BATCH) {
    const slice = base.slice(i, i + REWRITE_RECORDS_PER_BATCH);
    yield slice.map((record) => JSON.parse(source.serialize(record)) as R);
  }
}

/**
 * Restores blob references. Yields before a batch holds more than a few images: a log of
 * references is small, and restoring a whole chunk of it at once would hold every image in
 * memory together.
 */
async function* restoredBatches<R extends AgentRecordEnvelope>(
  blobs: BlobStore,
  batches: AsyncGenerator<R[]>,
): AsyncGenerator<R[]> {
  for await (const batch of batches) {
    let start = 0;
    let restored = 0;
    for (let i = 0; i < batch.length; i++) {
      restored += await blobs.restore(batch[i] as R);
      if (restored >= RESTORED_CHARS_PER_BATCH) {
        yield batch.slice(start, i + 1);
        start = i + 1;
        restored = 0;
      }
    }
    if (start < batch.length) yield start === 0 ? batch : batch.slice(start);
  }
}

import { type AgentRecordEnvelope, RecordsCorruptError, recordProblem } from '@agent-records/types';
import type { FileOperations } from './file-operations.js';
import { errorCode } from './file-operations.js';

const CHUNK_SIZE = 256 * 1024;
/** Longer lines are reported as corrupt rather than risking a string over V8's limit. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * Whole lines of a JSON Lines file, as raw bytes: one or more lines joined by `\n` (the final
 * newline left out), or the file's last line when it lacks its newline, or one over-long line
 * that was skipped rather than held in memory.
 */
export interface LineBlock {
  /** The lines' bytes, `\n`-separated; empty for an over-long line. */
  bytes: Buffer;
  /** 1-based number of the block's first line. */
  firstLine: number;
  /** Byte offset in the file of the block's first line. */
  offset: number;
  /** False for the file's last line when it has no newline (maybe a torn write). */
  complete: boolean;
  /** Set for a line longer than `maxLineBytes`: its length in bytes (`bytes` is then empty). */
  oversized?: number;
}

/** The block of a line skipped for its length: its place and size, none of its bytes. */
function oversizedLine(
  firstLine: number,
  offset: number,
  complete: boolean,
  length: number,
): LineBlock {
  return { bytes: EMPTY, firstLine, offset, complete, oversized: length };
}

export interface ReadLineBlocksOptions {
  /**
   * Start at this byte offset, which must be the start of a line (default 0). Line numbers then
   * count from it: the line starting there is line 1; byte offsets stay those of the file.
   */
  start?: number;
  /** Stop at this byte offset; default: the file's size when reading starts. */
  end?: number;
  /** Lines longer than this are skipped and reported as `oversized` (default {@link MAX_LINE_BYTES}). */
  maxLineBytes?: number;
  /** Bytes read per call (default 256 KiB; two such buffers are in use, see below). */
  chunkSize?: number;
  /** Called with the bytes read so far after every chunk. */
  onProgress?: (bytesRead: number) => void;
}

/**
 * The one line splitter of agent-records logs (the backend's `read()` and the CLI use it): reads an
 * open file in chunks and yields its lines in blocks, with line numbers and byte offsets. Linear in
 * the file's size whatever its line lengths. A block is a view of a buffer that the next step
 * reuses: use or copy it before asking for the next block. Two buffers take turns: while the
 * caller decodes and parses the whole lines of one, the next chunk is read into the other, after
 * the start of the unfinished line (at most one chunk, copied over), so replay waits for no read
 * but the first and no block is ever joined. A line that fills a whole buffer is collected as a
 * list of buffers and joined once, when its newline arrives.
 */
export async function* readLineBlocks(
  ops: FileOperations,
  fd: number,
  options: ReadLineBlocksOptions = {},
): AsyncGenerator<LineBlock> {
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  // A line inside one buffer is shorter than the buffer, so only lines that span buffers need the
  // length check, as long as a buffer is no longer than the limit.
  const chunkSize = Math.max(1, Math.min(options.chunkSize ?? CHUNK_SIZE, maxLineBytes));
  const end = options.end ?? (await ops.fstat(fd)).size;
  let chunk = Buffer.allocUnsafe(chunkSize);
  /** The buffer the read ahead goes into while `chunk` is being split. */
  let spare = Buffer.allocUnsafe(chunkSize);
  /** File offset of the next byte to read. */
  let position = options.start ?? 0;
  /** Lines before the unfinished one, and the byte offset where the unfinished line starts. */
  let lineBase = 0;
  let lineStart = position;
  /** Bytes of the unfinished line at the start of `chunk`, copied from the buffer before. */
  let carried = 0;
  // An unfinished line longer than a buffer: the buffers it filled, never joined until its
  // newline is found (none kept once it is known to be over-long).
  let long: Buffer[] = [];
  let longBytes = 0;
  let oversized = false;
  const readInto = (into: Buffer, at: number): Promise<number> | null => {
    if (position >= end) return null;
    const reading = ops.read(fd, into, at, Math.min(chunkSize - at, end - position), position);
    // Awaited below; until then a failure must not count as unhandled.
    reading.catch(() => {});
    return reading;
  };
  let pending = readInto(chunk, 0);

  try {
    while (pending) {
      const read = await pending;
      pending = null;
      if (read === 0) break;
      position += read;
      options.onProgress?.(position);
      const filled = carried + read;
      const lastNewline = chunk.lastIndexOf(NEWLINE, filled - 1);
      if (lastNewline === -1) {
        // The unfinished line fills this buffer: hand it over to the line rather than copy it.
        longBytes += filled;
        if (!oversized && longBytes > maxLineBytes) {
          oversized = true;
          long = [];
        }
        if (!oversized) {
          long.push(chunk.subarray(0, filled));
          chunk = Buffer.allocUnsafe(chunkSize);
        }
        carried = 0;
        pending = readInto(chunk, 0);
        continue;
      }
      // Read the next chunk into the other buffer, after the unfinished line's start, while the
      // whole lines of this one are split and parsed.
      carried = filled - lastNewline - 1;
      chunk.copy(spare, 0, lastNewline + 1, filled);
      pending = readInto(spare, carried);
      let headStart = 0;
      if (longBytes > 0) {
        const firstNewline = chunk.indexOf(NEWLINE);
        const length = longBytes + firstNewline;
        const firstLine = lineBase + 1;
        const offset = lineStart;
        const line = chunk.subarray(0, firstNewline);
        const joined = oversized || length > maxLineBytes ? null : Buffer.concat([...long, line]);
        lineBase++;
        lineStart += length + 1;
        headStart = firstNewline + 1;
        long = [];
        longBytes = 0;
        oversized = false;
        yield joined
          ? { bytes: joined, firstLine, offset, complete: true }
          : oversizedLine(firstLine, offset, true, length);
      }
      if (headStart <= lastNewline) {
        const head = chunk.subarray(headStart, lastNewline);
        const firstLine = lineBase + 1;
        const offset = lineStart;
        lineBase += countNewlines(head) + 1;
        lineStart += lastNewline + 1 - headStart;
        yield { bytes: head, firstLine, offset, complete: true };
      }
      [chunk, spare] = [spare, chunk];
    }
  } finally {
    // A caller that stops early: the read ahead must end before the descriptor is closed.
    if (pending) await pending.catch(() => {});
  }
  // The file's last line, without its newline (maybe a torn write).
  const length = longBytes + carried;
  if (oversized || length > maxLineBytes) {
    yield oversizedLine(lineBase + 1, lineStart, false, length);
  } else if (length > 0) {
    const rest = chunk.subarray(0, carried);
    const bytes = long.length === 0 ? rest : Buffer.concat([...long, rest], length);
    yield { bytes, firstLine: lineBase + 1, offset: lineStart, complete: false };
  }
}

/** Bytes read at a time by {@link countLinesIn}. */
const COUNT_CHUNK_BYTES = 1024 * 1024;

/**
 * Newlines in bytes `from` to `to` of the file open at `fd`, and the lines they make (a last one
 * without its newline counts). Null when `stopped()` says so between reads (the log was replaced
 * meanwhile). The one line counter of the writer's summary, `refreshLogSummary` and `readFrom`.
 */
export async function countLinesIn(
  ops: FileOperations,
  fd: number,
  from: number,
  to: number,
  stopped: () => boolean = () => false,
): Promise<{ newlines: number; lines: number } | null> {
  const chunk = Buffer.allocUnsafe(Math.min(COUNT_CHUNK_BYTES, Math.max(1, to - from)));
  let newlines = 0;
  let last = NEWLINE;
  for (let position = from; position < to; ) {
    if (stopped()) return null;
    const read = await ops.read(fd, chunk, 0, Math.min(chunk.length, to - position), position);
    if (read === 0) break;
    const view = chunk.subarray(0, read);
    newlines += countNewlines(view);
    last = view[read - 1] as number;
    position += read;
  }
  return { newlines, lines: last === NEWLINE ? newlines : newlines + 1 };
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

export interface ReadRecordsOptions {
  /** Stop at this byte offset (the writer's durable size); default: the file's end. */
  end?: number;
}

/**
 * The records of one block of lines (see {@link readLineBlocks}), blank lines skipped. A line
 * that is not a record is a `RecordsCorruptError` with file, line and byte offset, except a last
 * line without a newline that is not valid JSON (a torn write: skipped). `atFileStart`: the
 * block's first line is the file's first (a byte order mark is allowed there). With `lines`,
 * the index in the block of each record's line is pushed onto it.
 */
export function recordsOfBlock(
  block: LineBlock,
  file: string,
  atFileStart: boolean,
  lines?: number[],
): AgentRecordEnvelope[] {
  const place = {
    file,
    lineBase: block.firstLine - 1,
    textOffset: block.offset,
    bytes: block.bytes,
    bom: atFileStart && block.firstLine === 1,
  };
  if (block.oversized !== undefined) {
    throw corrupt(
      place,
      0,
      `line is ${block.oversized} bytes, longer than the ${MAX_LINE_BYTES} a reader holds`,
    );
  }
  const records: AgentRecordEnvelope[] = [];
  const bytes = block.bytes;
  // Decoded a piece at a time, each cut at a newline (never inside a character): a string of more
  // than ~128 KiB is allocated in V8's large-object space, an mmap each and a munmap at the next
  // GC, which cost more than decoding and parsing together (~170 ms per 28 MB of 256 KiB
  // strings; ~4 ms in 64 KiB pieces).
  for (let start = 0, index = 0; start <= bytes.length; ) {
    const end = pieceEnd(bytes, start);
    const texts = bytes.toString('utf8', start, end).split('\n');
    parseLines(texts, index, block.complete, place, records, lines);
    index += texts.length;
    start = end + 1;
  }
  return records;
}

/** Bytes decoded at a time (see {@link recordsOfBlock}); a longer line is one piece. */
const DECODE_PIECE_BYTES = 64 * 1024;

/** Where the piece starting at `start` ends: a newline, or the end of the bytes. */
function pieceEnd(bytes: Buffer, start: number): number {
  if (bytes.length - start <= DECODE_PIECE_BYTES) return bytes.length;
  const before = bytes.lastIndexOf(NEWLINE, start + DECODE_PIECE_BYTES);
  if (before >= start) return before;
  const after = bytes.indexOf(NEWLINE, start + DECODE_PIECE_BYTES);
  return after === -1 ? bytes.length : after;
}

/**
 * Streams the records of a JSON Lines file in batches, one chunk of the file in memory at a
 * time: each block of whole lines is decoded in pieces and split, no buffer copied per line.
 * Blank lines are skipped. A line that is not a record (see `recordProblem`) is a
 * `RecordsCorruptError` with file, line and byte offset, except a last line without a newline
 * that is not valid JSON: a torn write, skipped. A file that does not exist reads as empty.
 */
export async function* readRecordBatches(
  ops: FileOperations,
  file: string,
  options: ReadRecordsOptions = {},
): AsyncGenerator<AgentRecordEnvelope[]> {
  let fd: number;
  try {
    fd = await ops.open(file, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    yield* readRecordBatchesFrom(ops, fd, file, options);
  } finally {
    await ops.close(fd).catch(() => {});
  }
}

/** {@link readRecordBatches} on a descriptor the caller opened (and closes). */
export async function* readRecordBatchesFrom(
  ops: FileOperations,
  fd: number,
  file: string,
  options: ReadRecordsOptions = {},
): AsyncGenerator<AgentRecordEnvelope[]> {
  for await (const block of readLineBlocks(ops, fd, { end: options.end })) {
    const batch = recordsOfBlock(block, file, true);
    if (batch.length > 0) yield batch;
  }
}

interface Place {
  file: string;
  lineBase: number;
  textOffset: number;
  bytes: Buffer;
  /** The block starts at the file's first line, where a byte order mark is allowed. */
  bom: boolean;
}

/**
 * Parses `lines`, the block's lines from index `first` on, onto `records`. `complete` is false for
 * a last line without its newline, which may be a torn write.
 */
function parseLines(
  lines: string[],
  first: number,
  complete: boolean,
  place: Place,
  records: AgentRecordEnvelope[],
  lineIndexes?: number[],
): void {
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string;
    if (isBlank(text)) continue;
    const index = first + i;
    let value: unknown;
    try {
      value = JSON.parse(place.bom && index === 0 ? stripBom(text) : text);
    } catch (error) {
      if (!complete) continue;
      throw corrupt(place, index, `not valid JSON (${(error as Error).message})`, error);
    }
    // Only text that does not parse can be a torn write; valid JSON that is not a record was
    // written that way, and skipping it would drop it silently.
    const problem = recordProblem(value);
    if (problem) throw corrupt(place, index, `not a record: ${problem}`);
    records.push(value as AgentRecordEnvelope);
    lineIndexes?.push(index);
  }
}

function corrupt(
  place: Place,
  index: number,
  reason: string,
  cause?: unknown,
): RecordsCorruptError {
  // Byte offsets are only worked out on this error path: find the index-th newline.
  let at = 0;
  for (let seen = 0; seen < index; seen++) at = place.bytes.indexOf(NEWLINE, at) + 1;
  return new RecordsCorruptError(
    { file: place.file, line: place.lineBase + index + 1, offset: place.textOffset + at, reason },
    cause === undefined ? undefined : { cause },
  );
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

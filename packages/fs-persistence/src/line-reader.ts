import type { FileOperations } from './file-operations.js';

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
export function readLineBlocks(
  ops: FileOperations,
  fd: number,
  options: ReadLineBlocksOptions = {},
): AsyncGenerator<LineBlock> {
  return lineBlocks(ops, fd, options, true);
}

/**
 * {@link readLineBlocks}; with `countLines` false every block's `firstLine` is 0, for a caller
 * that counts the lines itself as it splits them (replay does): counting the newlines of every
 * chunk here as well was one native `indexOf` call per line, ~3% of a replay's instructions.
 */
export async function* lineBlocks(
  ops: FileOperations,
  fd: number,
  options: ReadLineBlocksOptions,
  countLines: boolean,
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
        const firstLine = countLines ? lineBase + 1 : 0;
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
        const firstLine = countLines ? lineBase + 1 : 0;
        const offset = lineStart;
        if (countLines) lineBase += countNewlines(head) + 1;
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
  const firstLine = countLines ? lineBase + 1 : 0;
  if (oversized || length > maxLineBytes) {
    yield oversizedLine(firstLine, lineStart, false, length);
  } else if (length > 0) {
    const rest = chunk.subarray(0, carried);
    const bytes = long.length === 0 ? rest : Buffer.concat([...long, rest], length);
    yield { bytes, firstLine, offset: lineStart, complete: false };
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

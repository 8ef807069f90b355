// The records of the line reader's blocks (line-reader.ts): decoded in pieces, parsed, checked,
// and a bad line reported with its exact line and byte offset.
import { type AgentRecordEnvelope, RecordsCorruptError, recordProblem } from '@agent-records/types';
import { type LineBlock, MAX_LINE_BYTES } from './line-reader.js';

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;

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
  const place = placeOf(block, file, atFileStart);
  const records: AgentRecordEnvelope[] = [];
  for (const batch of recordPiecesOf(block, place, lines)) for (const r of batch) records.push(r);
  return records;
}

/**
 * {@link recordsOfBlock} in batches, one per piece of at most 64 KiB, each parsed only when the
 * one before it has been taken: a replay holds a few hundred parsed records at a time, not a
 * whole chunk's (records alive at a scavenge are copied, and kept longer, promoted: ~10% of a
 * replay's time with 256 KiB batches, ~40% with 1 MiB).
 */
export function* recordBatchesOfBlock(
  block: LineBlock,
  file: string,
  atFileStart: boolean,
): Generator<AgentRecordEnvelope[]> {
  yield* recordPiecesOf(block, placeOf(block, file, atFileStart));
}

/**
 * The records of a block, piece by piece. Decoded a piece at a time, each cut at a newline (never
 * inside a character): a string of more than ~128 KiB is allocated in V8's large-object space, an
 * mmap each and a munmap at the next GC, which cost more than decoding and parsing together
 * (~170 ms per 28 MB of 256 KiB strings; ~4 ms in 64 KiB pieces).
 */
function* recordPiecesOf(
  block: LineBlock,
  place: Place,
  lines?: number[],
): Generator<AgentRecordEnvelope[]> {
  if (block.oversized !== undefined) {
    throw corrupt(
      place,
      0,
      `line is ${block.oversized} bytes, longer than the ${MAX_LINE_BYTES} a reader holds`,
    );
  }
  const bytes = block.bytes;
  for (let start = 0, index = 0; start <= bytes.length; ) {
    const end = pieceEnd(bytes, start);
    const texts = bytes.toString('utf8', start, end).split('\n');
    const records: AgentRecordEnvelope[] = [];
    parseLines(texts, index, block.complete, place, records, lines);
    index += texts.length;
    start = end + 1;
    yield records;
  }
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

function placeOf(block: LineBlock, file: string, atFileStart: boolean): Place {
  return {
    file,
    lineBase: block.firstLine - 1,
    textOffset: block.offset,
    bytes: block.bytes,
    bom: atFileStart && block.firstLine === 1,
  };
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
 * a last line without its newline, which may be a torn write. The loop runs once per line of the
 * log: a line that starts with `{` (every record written by JSON.stringify) takes the short way.
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
    const value =
      text.charCodeAt(0) === OPEN_BRACE
        ? parseLine(text, first + i, complete, place)
        : parseOddLine(text, first + i, complete, place);
    if (value === undefined) continue;
    records.push(value);
    lineIndexes?.push(first + i);
  }
}

/** The record on a line, or undefined for a torn last line; anything else not a record throws. */
function parseLine(
  text: string,
  index: number,
  complete: boolean,
  place: Place,
): AgentRecordEnvelope | undefined {
  let value: { type?: unknown; time?: unknown };
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!complete) return undefined;
    throw corrupt(place, index, `not valid JSON (${(error as Error).message})`, error);
  }
  // Parsed from text that starts with `{`: a plain object, its properties plain data. The usual
  // record is told at once; anything else gets the full check and its message.
  const { type, time } = value;
  if (typeof type === 'string' && type !== '' && (time === undefined || isFiniteNumber(time))) {
    return value as AgentRecordEnvelope;
  }
  // Only text that does not parse can be a torn write; valid JSON that is not a record was
  // written that way, and skipping it would drop it silently.
  const problem = recordProblem(value);
  if (problem) throw corrupt(place, index, `not a record: ${problem}`);
  return value as AgentRecordEnvelope;
}

/** A line that does not start with `{`: blank (skipped), a byte order mark first, or not a record. */
function parseOddLine(
  text: string,
  index: number,
  complete: boolean,
  place: Place,
): AgentRecordEnvelope | undefined {
  if (isBlank(text)) return undefined;
  const unmarked = place.bom && index === 0 ? stripBom(text) : text;
  if (unmarked.charCodeAt(0) === OPEN_BRACE) return parseLine(unmarked, index, complete, place);
  let value: unknown;
  try {
    value = JSON.parse(unmarked);
  } catch (error) {
    if (!complete) return undefined;
    throw corrupt(place, index, `not valid JSON (${(error as Error).message})`, error);
  }
  const problem = recordProblem(value);
  if (problem) throw corrupt(place, index, `not a record: ${problem}`);
  return value as AgentRecordEnvelope;
}

function isFiniteNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
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

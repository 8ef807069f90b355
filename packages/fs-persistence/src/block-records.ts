// The records of the line reader's blocks (line-reader.ts): decoded in pieces, parsed, checked,
// and a bad line reported with its exact line and byte offset.
import { isAscii, isUtf8 } from 'node:buffer';
import { type AgentRecordEnvelope, RecordsCorruptError, recordProblem } from '@agent-records/types';
import { type LineBlock, MAX_LINE_BYTES } from './line-reader.js';

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const BYTE_ORDER_MARK = 0xfeff;

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
  const place = placeOf(block, block.firstLine, file, atFileStart);
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
export function recordBatchesOfBlock(
  block: LineBlock,
  file: string,
  atFileStart: boolean,
  count?: LineCount,
): Generator<AgentRecordEnvelope[]> {
  // recordPiecesOf's own generator, not one delegating to it: a generator level costs every
  // batch a suspend and a resume.
  const firstLine = count ? count.next : block.firstLine;
  return recordPiecesOf(block, placeOf(block, firstLine, file, atFileStart), undefined, count);
}

/**
 * The line count of a caller that reads blocks without line numbers (see `lineBlocks`): the
 * 1-based number of the next block's first line, moved on as each piece is split.
 */
export interface LineCount {
  next: number;
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
  count?: LineCount,
): Generator<AgentRecordEnvelope[]> {
  if (block.oversized !== undefined) {
    throw corrupt(
      place,
      0,
      `line is ${block.oversized} bytes, longer than the ${MAX_LINE_BYTES} a reader holds`,
    );
  }
  const bytes = block.bytes;
  // A block of ASCII (most logs: JSON.stringify escapes nothing else but non-ASCII text) is
  // checked once, not piece by piece: each piece's check was a view of it (a Buffer made) and
  // a call, ~1M instructions per 100k-record replay.
  const allAscii = isAscii(bytes);
  for (let start = 0, index = 0; start <= bytes.length; ) {
    const end = pieceEnd(bytes, start);
    // Bytes that are not UTF-8 would decode to U+FFFD and change the data in silence; the
    // backend never writes them, so a line holding them is damage. Checked a piece at a time
    // (SIMD, only for pieces with a non-ASCII byte); the lines at fault are found only then.
    let ascii = allAscii;
    let notUtf8: Set<number> | null = null;
    if (!allAscii) {
      const piece = bytes.subarray(start, end);
      ascii = isAscii(piece);
      notUtf8 = ascii || isUtf8(piece) ? null : linesNotUtf8(piece);
    }
    const texts = bytes.toString(ascii ? 'latin1' : 'utf8', start, end).split('\n');
    // Sized for every line at once and cut to the records found (blank and torn lines have
    // none): pushing grew it ~8 times per piece (~1.5M instructions per 100k-record replay).
    const records = new Array<AgentRecordEnvelope>(Math.min(texts.length, PRESIZED_RECORDS));
    records.length = parseLines(texts, index, block.complete, place, records, notUtf8, lines);
    index += texts.length;
    if (count) count.next += texts.length;
    start = end + 1;
    yield records;
  }
}

/**
 * Lines a piece's array of records is sized for at once (more are added as found): more than
 * 64 KiB of real records hold, and below the length from which V8 makes `new Array(length)`
 * a dictionary (~16k), which the replay loop would then be deoptimised for.
 */
const PRESIZED_RECORDS = 4096;

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

function placeOf(block: LineBlock, firstLine: number, file: string, atFileStart: boolean): Place {
  return {
    file,
    lineBase: firstLine - 1,
    textOffset: block.offset,
    bytes: block.bytes,
    bom: atFileStart && firstLine === 1,
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

/** Indexes (in the piece) of the lines of `piece` that are not valid UTF-8. */
function linesNotUtf8(piece: Buffer): Set<number> {
  const found = new Set<number>();
  for (let start = 0, index = 0; start <= piece.length; index++) {
    const newline = piece.indexOf(NEWLINE, start);
    const end = newline === -1 ? piece.length : newline;
    if (!isUtf8(piece.subarray(start, end))) found.add(index);
    start = end + 1;
  }
  return found;
}

/**
 * Parses `lines`, the block's lines from index `first` on, into `records` from its start, and
 * returns how many records it put there. `complete` is false for
 * a last line without its newline, which may be a torn write; `notUtf8` holds the indexes in
 * `lines` of those whose bytes were not UTF-8 (null: none). Runs once per line of the log.
 */
function parseLines(
  lines: string[],
  first: number,
  complete: boolean,
  place: Place,
  records: AgentRecordEnvelope[],
  notUtf8: ReadonlySet<number> | null,
  lineIndexes?: number[],
): number {
  // The usual line, a record as JSON.stringify writes it, is told here with no call but
  // JSON.parse: this loop runs unoptimised for the first thousands of lines of a cold replay,
  // where each call and property lookup costs. It takes only lines that recordOfLine takes as
  // they are, as they are: UTF-8 text that parses to an object (not null, not an array) with a
  // non-empty string `type` and no `time` or a finite one, which is recordProblem's rule, and
  // every line that parses is parsed the same by the rule (a byte order mark or a blank line
  // does not parse). Every other line (blank, BOM, torn, corrupt, odd record) goes to the rule.
  // An array is told by its `length` (JSON.parse makes no getters, so reading it is unseen; an
  // object with a `length` just takes the long way): Array.isArray here, or a check that the
  // line starts with `{` (charCodeAt on a line sliced from its piece), each cost ~3M
  // instructions per 100k-record replay, mostly in this loop's optimised code and its compile.
  const utf8 = notUtf8 === null;
  const indexes = lineIndexes !== undefined;
  let found = 0;
  let i = 0;
  try {
    for (; i < lines.length; i++) {
      const text = lines[i] as string;
      if (utf8 && text.length !== 0) {
        let value: { type?: unknown; time?: unknown; length?: unknown } | null | undefined;
        try {
          value = JSON.parse(text);
        } catch {
          value = undefined; // the rule says why
        }
        if (typeof value === 'object' && value !== null && value.length === undefined) {
          const type = value.type;
          const time = value.time;
          if (
            typeof type === 'string' &&
            type !== '' &&
            (time === undefined || (typeof time === 'number' && time - time === 0))
          ) {
            records[found++] = value as AgentRecordEnvelope;
            if (indexes) lineIndexes.push(first + i);
            continue;
          }
        }
      }
      const value = recordOfLine(
        text,
        place.bom && first + i === 0,
        complete,
        utf8 || !notUtf8.has(i),
      );
      if (value === BLANK || value === TORN) continue;
      records[found++] = value;
      if (indexes) lineIndexes.push(first + i);
    }
  } catch (error) {
    if (!(error instanceof LineFault)) throw error;
    throw corrupt(place, first + i, error.reason, error.cause);
  }
  return found;
}

/** A blank line (see {@link recordOfLine}): skipped. */
const BLANK: unique symbol = Symbol('blank line');
/** A last line without newline that is not valid JSON: a torn write, skipped by `read()`. */
const TORN: unique symbol = Symbol('torn last line');

/** Why a line is not a record; thrown by {@link recordOfLine}, turned into a report by its caller. */
class LineFault {
  constructor(
    readonly reason: string,
    readonly cause?: unknown,
    /** For JSON that is not a record: the value and what `recordProblem` said of it. */
    readonly notRecord?: { value: unknown; problem: string },
  ) {}
}

const NOT_UTF8 = 'not valid UTF-8';

/**
 * THE rule for one line of a log, applied by `read()`/`replay()` and (through
 * {@link classifyLogLine}) by the CLI's validate, repair, inspect, cat and stats, so they never
 * disagree on a line. `text` is the line decoded, newline excluded; `utf8`: its bytes were valid
 * UTF-8.
 * In order:
 * 1. On the file's first line a byte order mark is dropped, before anything else looks at it.
 * 2. A line of nothing but space, tab and CR is blank. Only those: they are what editors, CRLF
 *    files and `echo >>` leave. Any other character (U+00A0, U+FEFF past the file start, U+2028,
 *    U+3000, form feed, ...) is not written by any JSON Lines writer, so such a line is damage:
 *    reported by `validate` and moved aside by `repair` like any bad line, rather than skipped by
 *    one tool and refused by another.
 * 3. A last line without newline that is not valid JSON is torn (a write cut short).
 * 4. Bytes that are not UTF-8, text that is not JSON, JSON that is not a record: corrupt.
 * Returns the record, BLANK or TORN; throws a LineFault for a corrupt line.
 */
function recordOfLine(
  text: string,
  fileStart: boolean,
  complete: boolean,
  utf8: boolean,
): AgentRecordEnvelope | typeof BLANK | typeof TORN {
  // Every record written by JSON.stringify starts with `{`: it takes the short way.
  if (text.charCodeAt(0) !== OPEN_BRACE) {
    const unmarked = fileStart && text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
    if (isBlank(unmarked)) return BLANK;
    return parseLine(unmarked, complete, utf8);
  }
  return parseLine(text, complete, utf8);
}

function parseLine(
  text: string,
  complete: boolean,
  utf8: boolean,
): AgentRecordEnvelope | typeof TORN {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Only text that does not parse can be a torn write (cut inside a character, too).
    if (!complete) return TORN;
    if (!utf8) throw new LineFault(NOT_UTF8);
    // Say what an invisible line holds, rather than "Unexpected token ' '".
    if (text.trim() === '') throw new LineFault(`not valid JSON: ${spaceNamed(text)}`, error);
    throw new LineFault(`not valid JSON (${(error as Error).message})`, error);
  }
  if (!utf8) throw new LineFault(NOT_UTF8);
  // The usual record is told at once; anything else gets the full check and its message. Valid
  // JSON that is not a record was written that way, and skipping it would drop it silently.
  // Text that starts with `{` and parses is a plain object, its properties plain data.
  if (text.charCodeAt(0) === OPEN_BRACE) {
    const { type, time } = value as { type?: unknown; time?: unknown };
    if (typeof type === 'string' && type !== '' && (time === undefined || isFiniteNumber(time))) {
      return value as AgentRecordEnvelope;
    }
  }
  const problem = recordProblem(value);
  if (problem) throw new LineFault(`not a record: ${problem}`, undefined, { value, problem });
  return value as AgentRecordEnvelope;
}

/** What a line of a log is, by the rule `read()` applies (see {@link classifyLogLine}). */
export type LogLine =
  | { kind: 'blank' }
  | { kind: 'record'; record: AgentRecordEnvelope }
  /** A last line without newline that is not valid JSON: `read()` skips it, the writer cuts it off. */
  | { kind: 'torn' }
  | {
      kind: 'corrupt';
      /** As in the `RecordsCorruptError` that `read()` throws for it. */
      reason: string;
      /** For valid JSON that is not a record: the value and what `recordProblem` says of it. */
      notRecord?: { value: unknown; problem: string };
    };

/**
 * What one line of a log is, decided exactly as `read()` and `replay()` decide it (blank, a
 * record, a torn last line, or corrupt: not UTF-8, not JSON, not a record), so a tool that checks
 * or repairs logs never calls a line fine that a replay refuses, or the other way round. `raw`:
 * the line's bytes without its newline; `fileStart`: it is the file's first line (a byte order
 * mark is allowed there); `complete`: it ended with a newline.
 */
export function classifyLogLine(
  raw: Uint8Array,
  options: { fileStart: boolean; complete: boolean },
): LogLine {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const ascii = isAscii(bytes);
  const utf8 = ascii || isUtf8(bytes);
  const text = bytes.toString(ascii ? 'latin1' : 'utf8');
  try {
    const value = recordOfLine(text, options.fileStart, options.complete, utf8);
    if (value === BLANK) return { kind: 'blank' };
    if (value === TORN) return { kind: 'torn' };
    return { kind: 'record', record: value };
  } catch (error) {
    if (!(error instanceof LineFault)) throw error;
    return error.notRecord
      ? { kind: 'corrupt', reason: error.reason, notRecord: error.notRecord }
      : { kind: 'corrupt', reason: error.reason };
  }
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

/** Names the characters that keep a line of white space from being blank, for a report. */
function spaceNamed(text: string): string {
  const odd = Array.from(new Set(text))
    .filter((c) => c !== ' ' && c !== '\t' && c !== '\r')
    .map((c) => `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`);
  return `a line of white space holding ${odd.join(', ')} (only space, tab and CR make a blank line)`;
}

/** Space, tab and CR only (see {@link recordOfLine}, rule 2); an empty line too. */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

import { type AgentRecordEnvelope, RecordsCorruptError } from '@agent-records/types';
import type { FileOperations } from './file-operations.js';
import { errorCode } from './file-operations.js';

const CHUNK_SIZE = 256 * 1024;
/** Longer lines are reported as corrupt rather than risking a string over V8's limit. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;
const NEWLINE = 0x0a;

export interface ReadLinesOptions {
  /** Stop at this byte offset (the writer's durable size); default: the file's end. */
  end?: number;
}

export interface ParsedLine {
  record: AgentRecordEnvelope;
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's start. */
  offset: number;
  /** Bytes of the line, newline excluded. */
  bytes: number;
}

/**
 * Streams the records of a JSON Lines file, one chunk in memory at a time. Blank lines are
 * skipped. A line that is not a JSON object with a string `type` is a `RecordsCorruptError` with
 * file, line and offset, except a last line without a newline that does not parse: that is a
 * torn write, skipped. A file that does not exist reads as empty.
 */
export async function* readRecordLines(
  ops: FileOperations,
  file: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<ParsedLine> {
  let fd: number;
  try {
    fd = await ops.open(file, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    const end = options.end ?? (await ops.fstat(fd)).size;
    let position = 0;
    let line = 0;
    // Bytes of a line that started in an earlier chunk; only that remainder is ever copied.
    let carry: Buffer | null = null;
    let carryOffset = 0;
    const chunk = Buffer.allocUnsafe(CHUNK_SIZE);

    while (position < end) {
      const length = Math.min(CHUNK_SIZE, end - position);
      const read = await ops.read(fd, chunk, 0, length, position);
      if (read === 0) break;
      let start = 0;
      while (start < read) {
        const newline = chunk.indexOf(NEWLINE, start);
        if (newline === -1 || newline >= read) {
          const rest = chunk.subarray(start, read);
          if (!carry) carryOffset = position + start;
          carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
          if (carry.length > MAX_LINE_BYTES) {
            throw new RecordsCorruptError({
              file,
              line: line + 1,
              offset: carryOffset,
              reason: `line is longer than ${MAX_LINE_BYTES} bytes`,
            });
          }
          break;
        }
        line++;
        let text: string;
        let offset: number;
        if (carry) {
          text = Buffer.concat([carry, chunk.subarray(start, newline)]).toString('utf8');
          offset = carryOffset;
          carry = null;
        } else {
          text = chunk.toString('utf8', start, newline);
          offset = position + start;
        }
        const parsed = parseLine(text, file, line, offset, true);
        if (parsed) yield { record: parsed, line, offset, bytes: position + newline - offset };
        start = newline + 1;
      }
      position += read;
    }
    if (carry && carry.length > 0) {
      line++;
      const parsed = parseLine(carry.toString('utf8'), file, line, carryOffset, false);
      if (parsed) yield { record: parsed, line, offset: carryOffset, bytes: carry.length };
    }
  } finally {
    await ops.close(fd).catch(() => {});
  }
}

/** Parses one line; `complete` is false for a last line without its newline. */
function parseLine(
  text: string,
  file: string,
  line: number,
  offset: number,
  complete: boolean,
): AgentRecordEnvelope | null {
  if (isBlank(text)) return null;
  let value: unknown;
  try {
    value = JSON.parse(line === 1 ? stripBom(text) : text);
  } catch (error) {
    if (!complete) return null; // a torn last write
    throw new RecordsCorruptError(
      { file, line, offset, reason: `not valid JSON (${(error as Error).message})` },
      { cause: error },
    );
  }
  const reason = notARecord(value);
  if (reason) {
    if (!complete) return null;
    throw new RecordsCorruptError({ file, line, offset, reason });
  }
  return value as AgentRecordEnvelope;
}

/** Why a parsed JSON value is not a record, or null when it is one. */
export function notARecord(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value} is not a record (an object with a string "type")`;
  }
  if (typeof (value as { type?: unknown }).type !== 'string') {
    return 'object has no string "type"';
  }
  return null;
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

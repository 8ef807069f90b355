import { type AgentRecordEnvelope, RecordsCorruptError } from '@agent-records/types';
import type { FileOperations } from './file-operations.js';
import { errorCode } from './file-operations.js';

const CHUNK_SIZE = 256 * 1024;
/** Longer lines are reported as corrupt rather than risking a string over V8's limit. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;
const NEWLINE = 0x0a;

export interface ReadRecordsOptions {
  /** Stop at this byte offset (the writer's durable size); default: the file's end. */
  end?: number;
}

/**
 * Streams the records of a JSON Lines file in batches, one chunk of the file in memory at a
 * time: each chunk is decoded once up to its last newline and split, so no buffer is copied per
 * line. Blank lines are skipped. A line that is not a JSON object with a string `type` is a
 * `RecordsCorruptError` with file, line and byte offset, except a last line without a newline
 * that does not parse: a torn write, skipped. A file that does not exist reads as empty.
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
    const end = options.end ?? (await ops.fstat(fd)).size;
    const chunk = Buffer.allocUnsafe(CHUNK_SIZE);
    let position = 0;
    /** Lines completed before the current text, and the byte offset where the text starts. */
    let lineBase = 0;
    let textOffset = 0;
    // The start of a line that continues into the next chunk: only that remainder is copied.
    let carry: Buffer | null = null;

    while (position < end) {
      const read = await ops.read(fd, chunk, 0, Math.min(CHUNK_SIZE, end - position), position);
      if (read === 0) break;
      position += read;
      const lastNewline = chunk.lastIndexOf(NEWLINE, read - 1);
      if (lastNewline === -1) {
        carry = carry
          ? Buffer.concat([carry, chunk.subarray(0, read)])
          : Buffer.from(chunk.subarray(0, read));
        if (carry.length > MAX_LINE_BYTES) {
          throw new RecordsCorruptError({
            file,
            line: lineBase + 1,
            offset: textOffset,
            reason: `line is longer than ${MAX_LINE_BYTES} bytes`,
          });
        }
        continue;
      }
      const head = chunk.subarray(0, lastNewline);
      const bytes = carry ? Buffer.concat([carry, head]) : head;
      const lines = bytes.toString('utf8').split('\n');
      const batch = parseLines(lines, true, { file, lineBase, textOffset, bytes });
      lineBase += lines.length;
      textOffset += bytes.length + 1;
      carry = lastNewline + 1 < read ? Buffer.from(chunk.subarray(lastNewline + 1, read)) : null;
      if (batch.length > 0) yield batch;
    }
    if (carry && carry.length > 0) {
      const batch = parseLines([carry.toString('utf8')], false, {
        file,
        lineBase,
        textOffset,
        bytes: carry,
      });
      if (batch.length > 0) yield batch;
    }
  } finally {
    await ops.close(fd).catch(() => {});
  }
}

interface Place {
  file: string;
  lineBase: number;
  textOffset: number;
  bytes: Buffer;
}

/** `complete` is false for a last line without its newline, which may be a torn write. */
function parseLines(lines: string[], complete: boolean, place: Place): AgentRecordEnvelope[] {
  const records: AgentRecordEnvelope[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string;
    if (isBlank(text)) continue;
    let value: unknown;
    try {
      value = JSON.parse(place.lineBase + i === 0 ? stripBom(text) : text);
    } catch (error) {
      if (!complete) continue;
      throw corrupt(place, i, `not valid JSON (${(error as Error).message})`, error);
    }
    const reason = notARecord(value);
    if (reason) {
      if (!complete) continue;
      throw corrupt(place, i, reason);
    }
    records.push(value as AgentRecordEnvelope);
  }
  return records;
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

/** Why a parsed JSON value is not a record, or null when it is one. */
export function notARecord(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    return `JSON ${what} is not a record (an object with a string "type")`;
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

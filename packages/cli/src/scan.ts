import { createReadStream } from 'node:fs';
import type { AgentRecordEnvelope } from '@agent-records/types';

/** Lines longer than this are reported, not held in memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface ScannedLine {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's start. */
  offset: number;
  /** The line's bytes, newline excluded. A view valid only until the next line is read. */
  raw: Buffer;
  /** Bytes of the line (for an oversized line, its full length though `raw` is empty). */
  bytes: number;
  /** False for a last line without a newline. */
  complete: boolean;
  /** The record, when the line is one. */
  record?: AgentRecordEnvelope;
  /** What is wrong with the line, when it is not a record (blank lines have neither). */
  problem?: string;
}

export interface ScanOptions {
  /** Called with the bytes read so far, about every chunk. */
  onProgress?: (bytesRead: number) => void;
}

/**
 * Reads a JSON Lines log line by line in constant memory (one 1 MiB chunk plus the line that
 * crosses it), with each line's number and byte offset. Never throws for bad content: a line that
 * is not a record carries a `problem` instead.
 */
export async function* scanLines(
  file: string,
  options: ScanOptions = {},
): AsyncGenerator<ScannedLine> {
  let line = 0;
  let offset = 0; // where the current (unfinished) line starts
  let position = 0; // bytes read so far
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let oversized = false;

  const finish = (raw: Buffer, bytes: number, complete: boolean): ScannedLine => {
    line++;
    const scanned: ScannedLine = { line, offset, raw, bytes, complete };
    if (oversized) scanned.problem = `line is longer than ${MAX_LINE_BYTES} bytes`;
    else classify(scanned);
    return scanned;
  };

  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) break;
      const piece = chunk.subarray(start, newline);
      const bytes = carryBytes + piece.length;
      const raw = oversized
        ? Buffer.alloc(0)
        : carry.length > 0
          ? Buffer.concat([...carry, piece])
          : piece;
      yield finish(raw, bytes, true);
      offset += bytes + 1;
      carry = [];
      carryBytes = 0;
      oversized = false;
      start = newline + 1;
    }
    const rest = chunk.subarray(start);
    carryBytes += rest.length;
    if (carryBytes > MAX_LINE_BYTES) {
      oversized = true;
      carry = [];
    } else if (rest.length > 0) {
      carry.push(Buffer.from(rest));
    }
    position += chunk.length;
    options.onProgress?.(position);
  }
  if (carryBytes > 0) {
    yield finish(oversized ? Buffer.alloc(0) : Buffer.concat(carry), carryBytes, false);
  }
}

function classify(scanned: ScannedLine): void {
  const text = scanned.raw.toString('utf8');
  if (text.trim().length === 0) return;
  let value: unknown;
  try {
    value = JSON.parse(scanned.line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    scanned.problem = scanned.complete
      ? `not valid JSON (${(error as Error).message})`
      : `torn last line: ${scanned.bytes} bytes without a newline that are not valid JSON (an interrupted write)`;
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    scanned.problem = `JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value} is not a record (an object with a string "type")`;
    return;
  }
  const { type, time } = value as { type?: unknown; time?: unknown };
  if (typeof type !== 'string' || type.length === 0) {
    scanned.problem = 'object has no string "type"';
    return;
  }
  if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
    scanned.problem = `record "${type}" has a "time" that is not a finite number`;
    return;
  }
  scanned.record = value as AgentRecordEnvelope;
}

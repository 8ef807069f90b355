import type { Readable } from 'node:stream';
import {
  classifyLogLine,
  type FileOperations,
  MAX_LINE_BYTES,
  nodeFileOperations,
  readLineBlocks,
} from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { terminalText } from './terminal-text.js';

/** Lines longer than this are reported, not held in memory: the backend's own limit. */
export { MAX_LINE_BYTES };

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
  /** What the log name `-` reads (standard input): a stream, read once from its start. */
  stdin?: Readable;
}

const NEWLINE = 0x0a;

/**
 * Reads a JSON Lines log line by line through the backend's line reader (`readLineBlocks`) and
 * judges each line by the backend's own rule (`classifyLogLine`), so the CLI and `read()` agree
 * on lines, offsets and the longest line, and on which lines are blank, records or corrupt.
 * Constant memory: one chunk plus the line that crosses it. Never throws for bad content: a line
 * that is not a record carries a `problem` instead.
 */
export async function* scanLines(
  file: string,
  options: ScanOptions = {},
): AsyncGenerator<ScannedLine> {
  const streamed = file === '-' ? streamOperations(options.stdin ?? process.stdin) : null;
  const ops = streamed ?? nodeFileOperations;
  const fd = streamed ? -1 : await ops.open(file, 'r');
  try {
    const blocks = readLineBlocks(ops, fd, {
      chunkSize: 1024 * 1024,
      onProgress: options.onProgress,
      // A stream has no size: read until it ends.
      end: streamed ? Number.MAX_SAFE_INTEGER : undefined,
    });
    for await (const block of blocks) {
      if (block.oversized !== undefined) {
        yield {
          line: block.firstLine,
          offset: block.offset,
          raw: block.bytes,
          bytes: block.oversized,
          complete: block.complete,
          problem: `line is longer than ${MAX_LINE_BYTES} bytes`,
        };
        continue;
      }
      let line = block.firstLine;
      let start = 0;
      for (;;) {
        const newline = block.bytes.indexOf(NEWLINE, start);
        const end = newline === -1 ? block.bytes.length : newline;
        const raw = block.bytes.subarray(start, end);
        const scanned: ScannedLine = {
          line,
          offset: block.offset + start,
          raw,
          bytes: raw.length,
          complete: block.complete,
        };
        classify(scanned);
        yield scanned;
        if (newline === -1) break;
        start = newline + 1;
        line++;
      }
    }
  } finally {
    await ops.close(fd).catch(() => {});
  }
}

/**
 * The reads `readLineBlocks` needs, served from a stream in order (positions are ignored: the
 * reader asks for consecutive ranges). Closing it destroys the stream, so a command that stops
 * early (`cat --limit`) does not keep the process waiting on standard input.
 */
function streamOperations(stream: Readable): FileOperations {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let pending: Buffer = Buffer.alloc(0);
  const unsupported = async () => {
    throw new Error('standard input is read only');
  };
  return {
    ...nodeFileOperations,
    open: unsupported,
    write: unsupported,
    ftruncate: unsupported,
    async read(_fd, buffer, offset, length) {
      while (pending.length === 0) {
        const next = await chunks.next();
        if (next.done) return 0;
        pending = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      }
      const n = Math.min(length, pending.length);
      pending.copy(buffer, offset, 0, n);
      pending = pending.subarray(n);
      return n;
    },
    fstat: async () => ({ size: 0 }),
    async close() {
      await chunks.return?.();
    },
  };
}

/**
 * Sets the line's record or problem by the backend's rule: validate and repair must never call a
 * line fine that `replay()` refuses (a line of U+00A0 once was), nor the other way round.
 */
function classify(scanned: ScannedLine): void {
  classifyRaw(scanned);
  // A problem quotes the line (its type, a parse error's excerpt): shown to people, made safe once.
  if (scanned.problem !== undefined) scanned.problem = terminalText(scanned.problem);
}

function classifyRaw(scanned: ScannedLine): void {
  const judged = classifyLogLine(scanned.raw, {
    fileStart: scanned.line === 1,
    complete: scanned.complete,
  });
  switch (judged.kind) {
    case 'blank':
      return;
    case 'record':
      scanned.record = judged.record;
      return;
    case 'torn':
      scanned.problem = `torn last line: ${scanned.bytes} bytes without a newline that are not valid JSON (an interrupted write)`;
      return;
    case 'corrupt':
      scanned.problem = judged.notRecord
        ? describe(judged.notRecord.value, judged.notRecord.problem)
        : judged.reason;
  }
}

/**
 * The CLI's wording for a value `recordProblem` refused (kept as it was, since scripts grep it);
 * the rule itself is only `recordProblem`.
 */
function describe(value: unknown, problem: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    return `JSON ${what} is not a record (an object with a string "type")`;
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type === 'string' && type.length > 0) {
    return problem.includes('`time`')
      ? `record "${type}" has a "time" that is not a finite number`
      : `record "${type}": ${problem}`;
  }
  return `object has no string "type" (${problem})`;
}

import { type FileHandle, open, stat } from 'node:fs/promises';
import { classifyLogLine, MAX_LINE_BYTES } from '@agent-records/fs-persistence';
import { fileError } from '../errors.js';
import { painter } from '../format.js';
import { type CliIo, LineWriter, processIo, runGuarded } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { terminalText } from '../terminal-text.js';
import { formatRecord, lineMode, matches, type PrintOptions, parseCount } from './cat.js';

const NEWLINE = 0x0a;
const BACKWARD_CHUNK = 64 * 1024;

export interface TailOptions extends PrintOptions {
  lines: number;
  follow: boolean;
  pollMs?: number;
  signal?: AbortSignal;
}

/** One line read from the end of a log: its bytes and the byte offset of its start. */
interface TailLine {
  raw: Buffer;
  offset: number;
  /** False for a last line without a newline. */
  complete: boolean;
}

/**
 * Yields the lines of `handle` from the last to the first, reading backwards in chunks, so the
 * last lines of a huge log cost a few reads instead of the whole file. A line's pieces are kept
 * in a list and joined once; a line longer than the backend's limit is skipped (reported with
 * `oversized`) instead of being held.
 */
async function* linesBackwards(
  handle: FileHandle,
  size: number,
): AsyncGenerator<TailLine | { oversized: number; offset: number }> {
  let position = size;
  // The pieces of the line being collected (in file order), all after the last newline seen.
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let lineEnd = size; // where the collected line ends (its newline, or the end of file)
  let complete = true;
  // A file not ending with a newline: its last line is the bytes after the last newline.
  if (size > 0) {
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === NEWLINE) lineEnd = size - 1;
    else complete = false;
  }
  position = lineEnd;
  while (position > 0) {
    const start = Math.max(0, position - BACKWARD_CHUNK);
    const chunk = Buffer.allocUnsafe(position - start);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, start);
    const view = chunk.subarray(0, bytesRead);
    let end = view.length;
    for (let newline = view.lastIndexOf(NEWLINE); newline !== -1; ) {
      const head = view.subarray(newline + 1, end);
      const offset = start + newline + 1;
      if (pieceBytes + head.length > MAX_LINE_BYTES) {
        yield { oversized: lineEnd - offset, offset };
      } else {
        const raw = pieces.length > 0 ? Buffer.concat([head, ...pieces]) : Buffer.from(head);
        yield { raw, offset, complete };
      }
      pieces = [];
      pieceBytes = 0;
      complete = true;
      lineEnd = offset - 1;
      end = newline;
      newline = newline === 0 ? -1 : view.lastIndexOf(NEWLINE, newline - 1);
    }
    const rest = view.subarray(0, end);
    if (pieceBytes + rest.length > MAX_LINE_BYTES) pieces = [];
    else pieces.unshift(Buffer.from(rest));
    pieceBytes += rest.length;
    position = start;
  }
  if (lineEnd > 0 || pieceBytes > 0) {
    if (pieceBytes > MAX_LINE_BYTES) yield { oversized: pieceBytes, offset: 0 };
    else yield { raw: Buffer.concat(pieces), offset: 0, complete };
  }
}

/**
 * `tail`: prints the last `lines` matching records, read from the end of the file, then with
 * `follow` every new one. A last line without a newline is printed when it is a whole record
 * (another runtime's style); when it is not (a write in progress), following picks it up whole.
 */
export async function tailLog(
  file: string,
  options: TailOptions,
  io: CliIo = processIo(),
): Promise<void> {
  await assertLogFile(file);
  const out = new LineWriter(io.out);
  const paint = painter(io);
  const last: string[] = [];
  let position = 0;
  try {
    const handle = await open(file, 'r');
    try {
      const size = (await handle.stat()).size;
      position = size;
      for await (const line of linesBackwards(handle, size)) {
        // Only the first line seen (the last in the file) can lack its newline.
        const unfinished = 'raw' in line && !line.complete;
        if (last.length >= options.lines && !unfinished) break;
        if ('oversized' in line) {
          io.err.write(
            `${file}: skipped a line at byte ${line.offset} longer than ${MAX_LINE_BYTES} bytes\n`,
          );
          continue;
        }
        // The log line rule read()/replay() and validate use, so tail never shows a line they refuse.
        const judged = classifyLogLine(line.raw, {
          fileStart: line.offset === 0,
          complete: line.complete,
        });
        if (judged.kind === 'blank') continue;
        if (judged.kind !== 'record') {
          // A torn last line: not printed; following starts at it and reads it once it is whole.
          if (judged.kind === 'torn') position = line.offset;
          else notARecord(io, file, line.offset, judged.reason);
          continue;
        }
        if (last.length < options.lines && matches(judged.record, options)) {
          last.unshift(
            formatRecord(judged.record, line.raw.toString('utf8'), lineMode(options), paint),
          );
        }
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw fileError(file, error);
  }
  for (const text of last) await out.line(text);
  if (options.follow) await follow(file, position, options, io, out);
}

async function follow(
  file: string,
  from: number,
  options: TailOptions,
  io: CliIo,
  out: LineWriter,
): Promise<void> {
  const paint = painter(io);
  let position = from;
  let identity = await fileIdentity(file);
  // The bytes of a line not yet ended: split on newlines as bytes and decoded only whole, so a
  // character written in two pieces is never decoded half at a time.
  let pieces: Buffer[] = [];
  const pollMs = options.pollMs ?? 200;
  while (!options.signal?.aborted && !out.closed) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = await fileIdentity(file).catch(() => null);
    if (!now) continue; // replaced right now; look again
    if (now.ino !== identity.ino || now.size < position) {
      io.err.write(`${file}: the log was rewritten; following it from the start\n`);
      identity = now;
      position = 0;
      pieces = [];
    }
    if (now.size <= position) continue;
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(now.size - position, 16 * 1024 * 1024));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      position += bytesRead;
      const fresh = buffer.subarray(0, bytesRead);
      const lastNewline = fresh.lastIndexOf(NEWLINE);
      if (lastNewline === -1) {
        pieces.push(fresh);
        continue;
      }
      const whole = Buffer.concat([...pieces, fresh.subarray(0, lastNewline)]);
      const wholeStart = position - bytesRead - (whole.length - lastNewline);
      pieces = lastNewline + 1 < fresh.length ? [fresh.subarray(lastNewline + 1)] : [];
      for (let start = 0; start <= whole.length; ) {
        const end = whole.indexOf(NEWLINE, start);
        const stop = end === -1 ? whole.length : end;
        const raw = whole.subarray(start, stop);
        const offset = wholeStart + start;
        start = stop + 1;
        const judged = classifyLogLine(raw, { fileStart: offset === 0, complete: true });
        if (judged.kind === 'blank') continue;
        if (judged.kind !== 'record') {
          notARecord(io, file, offset, judged.kind === 'corrupt' ? judged.reason : 'torn');
          continue;
        }
        if (matches(judged.record, options))
          await out.line(
            formatRecord(judged.record, raw.toString('utf8'), lineMode(options), paint),
          );
      }
    } finally {
      await handle.close();
    }
  }
}

function notARecord(io: CliIo, file: string, offset: number, reason: string): void {
  io.err.write(
    `${file}: skipped a line at byte ${offset} that is not a record (${terminalText(reason)})\n`,
  );
}

async function fileIdentity(file: string) {
  const info = await stat(file);
  return { ino: info.ino, size: info.size };
}

/** `agent-records tail`. */
export async function runTail(
  args: {
    log: string;
    follow?: boolean;
    lines: string | number;
    type?: string[];
    json?: boolean;
    raw?: boolean;
  },
  io: CliIo,
  control: { signal?: AbortSignal; pollMs?: number } = {},
): Promise<number> {
  return runGuarded(io, async () => {
    const lines = parseCount(args.lines, '--lines');
    await tailLog(
      args.log,
      {
        lines,
        follow: args.follow ?? false,
        types: args.type,
        json: args.json,
        raw: args.raw,
        ...control,
      },
      io,
    );
    return 0;
  });
}

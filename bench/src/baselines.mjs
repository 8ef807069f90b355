// Baselines, measured on the same records and disk as our backends.
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import { promisify } from 'node:util';

const open = promisify(fs.open);
const write = promisify(fs.write);
const read = (fd, buffer, offset, length, position) =>
  new Promise((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (error, bytes) =>
      error ? reject(error) : resolve(bytes),
    ),
  );
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);

/** The limit for writing: stringify everything, one write, one fdatasync. */
export function limitWrite(file, records) {
  const text = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
  const fd = fs.openSync(file, 'w', 0o600);
  fs.writeSync(fd, text);
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
  return Buffer.byteLength(text);
}

/** A simple reader: one readFileSync, split, JSON.parse per line (the whole file in memory). */
export function wholeFileRead(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  let count = 0;
  for (const line of lines) {
    if (line.length === 0) continue;
    JSON.parse(line);
    count++;
  }
  return count;
}

/** One UTF-8 decode of the bytes (what every reader here does unless told otherwise). */
const utf8 = (buffer, start, end) => buffer.toString('utf8', start, end);

/**
 * The same string, faster when every byte is ASCII (most agent logs: JSON.stringify leaves only
 * non-ASCII text as it is): `isAscii` (SIMD) and a latin1 copy, which is the same one-byte string
 * for ASCII, skip the UTF-8 decoder. Any other piece is decoded as UTF-8.
 */
const asciiFirst = (buffer, start, end) => {
  const bytes = buffer.subarray(start, end);
  return isAscii(bytes) ? bytes.latin1Slice(0, bytes.length) : bytes.toString('utf8');
};

/**
 * Decoding in pieces of at most 64 KiB, each cut at a newline: a string over ~128 KiB goes to
 * V8's large-object space (an mmap each, munmap at GC), which cost 60-110 ms of system time per
 * 28 MB here, more than the decoding itself.
 */
const PIECE_BYTES = 64 * 1024;

/** Calls `each(text)` for every piece of buffer[0, end), which ends at a line's end. */
function decodeInPieces(buffer, end, decode, each) {
  for (let start = 0; start < end; ) {
    let stop = end;
    if (end - start > PIECE_BYTES) {
      const newline = buffer.lastIndexOf(10, start + PIECE_BYTES - 1);
      stop = newline >= start ? newline : buffer.indexOf(10, start + PIECE_BYTES);
      if (stop === -1 || stop > end) stop = end;
    }
    each(decode(buffer, start, stop));
    start = stop + 1;
  }
}

const WAYS = {
  // One decode per chunk: the way a careful user writes it.
  whole: (buffer, end, onText) => onText(utf8(buffer, 0, end)),
  // The fastest found here: ASCII fast path, pieces of at most 64 KiB.
  pieces: (buffer, end, onText) => decodeInPieces(buffer, end, asciiFirst, onText),
};

/**
 * The fastest readers written here: large chunk reads into one reused buffer, the complete lines
 * of each chunk decoded (a newline byte never occurs inside a multi-byte character, so cutting at
 * the last one is exact), split, JSON.parse. Memory is bounded by the chunk (grown only for a
 * longer line). `fastReadSync` holds the event loop for the whole read. `way` is how a chunk is
 * decoded (see WAYS).
 */
export function fastReadSync(file, chunkBytes = 1 << 20, { way = 'whole', onRecord } = {}) {
  const fd = fs.openSync(file, 'r');
  try {
    return readChunks(chunkBytes, onRecord, WAYS[way], (buffer, at) =>
      fs.readSync(fd, buffer, at, buffer.length - at, null),
    );
  } finally {
    fs.closeSync(fd);
  }
}

/** The same reader through libuv: one thread-pool round trip per chunk, the loop stays free. */
export async function fastReadAsync(file, chunkBytes = 1 << 20, { way = 'whole' } = {}) {
  const fd = await open(file, 'r');
  try {
    return await readChunksAsync(chunkBytes, undefined, WAYS[way], (buffer, at) =>
      read(fd, buffer, at, buffer.length - at, null),
    );
  } finally {
    await close(fd);
  }
}

/**
 * The fastest reader here that keeps the loop free, and the replay a careful user would write
 * instead of ours: `fastReadAsync` with the next chunk read while this one is parsed (two buffers
 * take turns, as ours do), every record handed to `onRecord` (the host's restore) on the way.
 */
export async function fastReadAhead(file, chunkBytes, onRecord) {
  const fd = await open(file, 'r');
  let reading = null;
  try {
    let buffer = Buffer.allocUnsafe(chunkBytes);
    let spare = Buffer.allocUnsafe(chunkBytes);
    let carried = 0;
    let count = 0;
    const parse = (text) => {
      count += parseLines(text, onRecord);
    };
    reading = read(fd, buffer, 0, buffer.length, null);
    for (;;) {
      const got = await reading;
      reading = null;
      const filled = carried + got;
      if (got === 0) {
        if (filled > 0) WAYS.pieces(buffer, filled, parse);
        return count;
      }
      const cut = buffer.lastIndexOf(10, filled - 1);
      if (cut === -1) {
        buffer = grown(buffer, filled);
        spare = Buffer.allocUnsafe(buffer.length);
        carried = filled;
        reading = read(fd, buffer, carried, buffer.length - carried, null);
        continue;
      }
      carried = filled - cut - 1;
      buffer.copy(spare, 0, cut + 1, filled);
      reading = read(fd, spare, carried, spare.length - carried, null);
      WAYS.pieces(buffer, cut, parse);
      [buffer, spare] = [spare, buffer];
    }
  } finally {
    await reading?.catch(() => {});
    await close(fd);
  }
}

/** For a line longer than `buffer`: one twice as long, holding its first `filled` bytes. */
function grown(buffer, filled) {
  const bigger = Buffer.allocUnsafe(buffer.length * 2);
  buffer.copy(bigger, 0, 0, filled);
  return bigger;
}

function parseLines(text, onRecord) {
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const record = JSON.parse(line);
    onRecord?.(record);
    count++;
  }
  return count;
}

/** Shared by both readers: `fill(buffer, at)` reads after the carried partial line. */
function* chunkSteps(chunkBytes, onRecord, decodeChunk) {
  let buffer = Buffer.allocUnsafe(chunkBytes);
  let carried = 0;
  let count = 0;
  const parse = (text) => {
    count += parseLines(text, onRecord);
  };
  for (;;) {
    const got = yield { buffer, at: carried };
    const filled = carried + got;
    if (got === 0) {
      if (filled > 0) decodeChunk(buffer, filled, parse);
      return count;
    }
    const cut = buffer.lastIndexOf(10, filled - 1);
    if (cut === -1) {
      buffer = grown(buffer, filled);
      carried = filled;
      continue;
    }
    decodeChunk(buffer, cut, parse);
    buffer.copy(buffer, 0, cut + 1, filled);
    carried = filled - cut - 1;
  }
}

function readChunks(chunkBytes, onRecord, decode, fill) {
  const steps = chunkSteps(chunkBytes, onRecord, decode);
  let step = steps.next();
  while (!step.done) step = steps.next(fill(step.value.buffer, step.value.at));
  return step.value;
}

async function readChunksAsync(chunkBytes, onRecord, decode, fill) {
  const steps = chunkSteps(chunkBytes, onRecord, decode);
  let step = steps.next();
  while (!step.done) step = steps.next(await fill(step.value.buffer, step.value.at));
  return step.value;
}

/** What a hand-rolled logger does: appendFileSync and fsync for every record. */
export class NaiveAppender {
  constructor(file) {
    this.fd = fs.openSync(file, 'a', 0o600);
    this.fsyncs = 0;
  }
  append(record) {
    this.appendLine(`${JSON.stringify(record)}\n`);
  }
  appendLine(line) {
    fs.appendFileSync(this.fd, line);
    fs.fsyncSync(this.fd);
    this.fsyncs++;
  }
  close() {
    fs.closeSync(this.fd);
  }
}

/**
 * The design this project replaces, written from its description: records queue in memory; each
 * batch is stringified at once and written with open(path, 'a'), one write, fsync, close.
 */
export class ReferenceAppender {
  constructor(file) {
    this.file = file;
    this.pending = [];
    this.scheduled = null;
    this.fsyncs = 0;
  }
  append(record) {
    this.pending.push(record);
    if (!this.scheduled)
      this.scheduled = new Promise((resolve) => setImmediate(resolve)).then(() => this.#write());
  }
  async flush() {
    while (this.scheduled) await this.scheduled;
  }
  async #write() {
    const batch = this.pending;
    this.pending = [];
    const text = `${batch.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const fd = await open(this.file, 'a', 0o600);
    await write(fd, text);
    await fsync(fd);
    this.fsyncs++;
    await close(fd);
    this.scheduled = this.pending.length > 0 ? this.#write() : null;
  }
}

/** The reference reader: concatenate chunks into a string and slice off one line at a time. */
export async function referenceRead(file) {
  let buffer = '';
  let count = 0;
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8' })) {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.length > 0) {
        JSON.parse(line);
        count++;
      }
      newline = buffer.indexOf('\n');
    }
  }
  return count;
}

/** The reference rewrite: the whole log as one string, written and fsynced. */
export function referenceRewrite(file, records) {
  const text = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
  const fd = fs.openSync(`${file}.tmp`, 'w', 0o600);
  fs.writeSync(fd, text);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(`${file}.tmp`, file);
  return Buffer.byteLength(text);
}

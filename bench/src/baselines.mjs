// Baselines, measured on the same records and disk as our backends.
import fs from 'node:fs';
import { promisify } from 'node:util';

const open = promisify(fs.open);
const write = promisify(fs.write);
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

/** The limit for reading: one readFileSync, split, JSON.parse per line. */
export function limitRead(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  let count = 0;
  for (const line of lines) {
    if (line.length === 0) continue;
    JSON.parse(line);
    count++;
  }
  return count;
}

/** What a hand-rolled logger does: appendFileSync and fsync for every record. */
export class NaiveAppender {
  constructor(file) {
    this.fd = fs.openSync(file, 'a', 0o600);
    this.fsyncs = 0;
  }
  append(record) {
    fs.appendFileSync(this.fd, `${JSON.stringify(record)}\n`);
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

import { open, stat } from 'node:fs/promises';
import { type AgentRecordEnvelope, recordProblem } from '@agent-records/types';
import { CliError, EXIT, fileError } from '../errors.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import { formatTime, summarizeRecord } from '../summary.js';

export interface RecordFilter {
  types?: string[];
  /** Epoch ms: records before it (or without a time) are left out. */
  since?: number;
}

export interface PrintOptions extends RecordFilter {
  json?: boolean;
}

/** Parses `--since`: an ISO date/time, epoch milliseconds, or a duration ago (`90s`, `15m`, `2h`, `3d`). */
export function parseSince(value: string, now = Date.now()): number {
  const relative = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new CliError(
      `--since ${JSON.stringify(value)}: not a time. Use an ISO date (2026-11-25T07:00:00Z), epoch ms, or a duration such as 15m.`,
      EXIT.usage,
    );
  }
  return parsed;
}

export function matches(record: AgentRecordEnvelope, filter: RecordFilter): boolean {
  if (filter.types && filter.types.length > 0 && !filter.types.includes(record.type)) return false;
  if (
    filter.since !== undefined &&
    !(typeof record.time === 'number' && record.time >= filter.since)
  )
    return false;
  return true;
}

/** The text printed for one record: its original line with --json, else time, type and summary. */
export function formatRecord(record: AgentRecordEnvelope, raw: string, json: boolean): string {
  if (json) return raw;
  return `${formatTime(record.time).padEnd(24)}  ${record.type.padEnd(28)}  ${summarizeRecord(record)}`;
}

/** Writes to stdout, waiting when the pipe is full; a closed pipe (`| head`) ends quietly. */
export class Output {
  #closed = false;
  constructor() {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.#closed = true;
      else throw error;
    });
  }
  get closed(): boolean {
    return this.#closed;
  }
  async line(text: string): Promise<void> {
    if (this.#closed) return;
    if (!process.stdout.write(`${text}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          process.stdout.off('drain', done);
          process.stdout.off('error', done);
          resolve();
        };
        process.stdout.on('drain', done);
        process.stdout.on('error', done);
      });
    }
  }
}

/** `cat`: prints matching records; problem lines go to stderr. Returns the number of problems. */
export async function catLog(file: string, options: PrintOptions): Promise<number> {
  await ensureFile(file);
  const out = new Output();
  let problems = 0;
  const progress = progressFor(file, 'cat');
  try {
    for await (const line of scanLines(file, { onProgress: progress.update })) {
      if (out.closed) break;
      if (line.problem) {
        problems++;
        process.stderr.write(`${file}:${line.line}:${line.offset}: ${line.problem}\n`);
        continue;
      }
      if (line.record && matches(line.record, options)) {
        await out.line(formatRecord(line.record, line.raw.toString('utf8'), options.json ?? false));
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress.done();
  }
  return problems;
}

/** `tail`: prints the last `lines` matching records, then with `follow` every new one. */
export async function tailLog(
  file: string,
  options: PrintOptions & { lines: number; follow: boolean; pollMs?: number; signal?: AbortSignal },
): Promise<void> {
  await ensureFile(file);
  const out = new Output();
  const last: string[] = [];
  let position = 0;
  try {
    for await (const line of scanLines(file)) {
      if (!line.complete) break; // a line still being written: follow picks it up whole
      position = line.offset + line.bytes + 1;
      if (line.record && matches(line.record, options)) {
        last.push(formatRecord(line.record, line.raw.toString('utf8'), options.json ?? false));
        if (last.length > options.lines) last.shift();
      }
    }
  } catch (error) {
    throw fileError(file, error);
  }
  for (const text of last) await out.line(text);
  if (!options.follow) return;

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
      process.stderr.write(`${file}: the log was rewritten; following it from the start\n`);
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
      pieces = lastNewline + 1 < fresh.length ? [fresh.subarray(lastNewline + 1)] : [];
      for (const raw of whole.toString('utf8').split('\n')) {
        if (raw.trim().length === 0) continue;
        let record: unknown;
        try {
          record = JSON.parse(raw);
        } catch {
          process.stderr.write(`${file}: skipped a line that is not valid JSON\n`);
          continue;
        }
        if (recordProblem(record) !== null) {
          process.stderr.write(`${file}: skipped a line that is not a record\n`);
          continue;
        }
        const valid = record as AgentRecordEnvelope;
        if (matches(valid, options))
          await out.line(formatRecord(valid, raw, options.json ?? false));
      }
    } finally {
      await handle.close();
    }
  }
}

const NEWLINE = 0x0a;

async function fileIdentity(file: string) {
  const info = await stat(file);
  return { ino: info.ino, size: info.size };
}

async function ensureFile(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (error) {
    throw fileError(file, error);
  }
}

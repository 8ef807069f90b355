import type { AgentRecordEnvelope } from '@agent-records/types';
import { parseTime } from '../duration.js';
import { CliError, EXIT, fileError } from '../errors.js';
import type { Paint } from '../format.js';
import { painter } from '../format.js';
import { type CliIo, LineWriter, processIo, runGuarded } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import { formatTime, summarizeRecord } from '../summary.js';
import { terminalJson, terminalText } from '../terminal-text.js';
import { writeInProgress } from '../write-in-progress.js';
import { closestType } from './closest.js';

export interface RecordFilter {
  types?: string[];
  /** Epoch ms: records before it (or without a time) are left out. */
  since?: number;
  /** Epoch ms: records after it (or without a time) are left out. */
  until?: number;
}

export interface PrintOptions extends RecordFilter {
  json?: boolean;
  /**
   * Each record's line exactly as the log holds it, control characters included: data for a
   * pipe, never for a terminal. Wins over `json`.
   */
  raw?: boolean;
  /** Print at most this many records, then stop reading. */
  limit?: number;
}

/** Parses `--since`: an ISO date/time, epoch milliseconds, or a duration ago (`90s`, `15m`, `1h30m`, `3d`). */
export function parseSince(value: string, now = Date.now()): number {
  return parseTime(value, '--since', now);
}

export function matches(record: AgentRecordEnvelope, filter: RecordFilter): boolean {
  if (filter.types && filter.types.length > 0 && !filter.types.includes(record.type)) return false;
  const timed = typeof record.time === 'number';
  if (filter.since !== undefined && !(timed && (record.time as number) >= filter.since))
    return false;
  if (filter.until !== undefined && !(timed && (record.time as number) <= filter.until))
    return false;
  return true;
}

/**
 * The text printed for one record: with --json its original JSON line, its control and bidi
 * characters written as `\uXXXX` escapes (the same JSON value: `jq` reads the same data); else
 * time, type and summary with those characters shown as U+FFFD. Either way no byte of the log
 * can drive the terminal (see terminal-text.ts). Only `'raw'` (`--raw`) prints the line as the
 * log holds it, byte for byte: for pipes that want the log's own bytes.
 */
export function formatRecord(
  record: AgentRecordEnvelope,
  raw: string,
  json: boolean | 'raw',
  paint: Paint = (text) => text,
): string {
  if (json === 'raw') return raw;
  if (json) return terminalJson(raw);
  return `${paint(formatTime(record.time).padEnd(24), 'dim')}  ${paint(terminalText(record.type).padEnd(28), 'bold')}  ${terminalText(summarizeRecord(record))}`;
}

/**
 * `cat`: prints matching records; problem lines go to `err`. Returns the number of problems.
 * `-` reads standard input. With `types`, a type the whole log never holds is warned about on
 * `err` with the closest type it does hold (a typo prints nothing otherwise).
 */
export async function catLog(
  file: string,
  options: PrintOptions,
  io: CliIo = processIo(),
): Promise<number> {
  const info = await assertLogFile(file, { allowStdin: true });
  const out = new LineWriter(io.out);
  const paint = painter(io);
  const seen = new Set<string>();
  let problems = 0;
  let printed = 0;
  let complete = true;
  const progress = info ? progressFor(info.size, 'cat', io.err) : null;
  try {
    for await (const line of scanLines(file, { onProgress: progress?.update, stdin: io.stdin })) {
      if (out.closed || (options.limit !== undefined && printed >= options.limit)) {
        complete = false;
        break;
      }
      if (line.problem) {
        // A live writer's unfinished last line: not printed, and no problem (as in `tail`).
        if (await writeInProgress(file, line)) continue;
        problems++;
        io.err.write(`${file}:${line.line}:${line.offset}: ${line.problem}\n`);
        continue;
      }
      if (!line.record) continue;
      seen.add(line.record.type);
      if (matches(line.record, options)) {
        printed++;
        const text = formatRecord(line.record, line.raw.toString('utf8'), lineMode(options), paint);
        await out.line(text);
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress?.done();
  }
  // Only a read to the end knows that a type is absent.
  if (complete) {
    for (const type of options.types ?? []) {
      if (seen.has(type)) continue;
      const closest = closestType(type, seen);
      const message =
        `agent-records: ${file} holds no record of type ${JSON.stringify(type)}` +
        (closest ? `; did you mean ${JSON.stringify(closest)}?` : '') +
        ` (types in the log: ${[...seen].sort().join(', ') || 'none'})`;
      io.err.write(`${terminalText(message)}\n`);
    }
  }
  return problems;
}

/** How `formatRecord` prints a line for these options. */
export function lineMode(options: { json?: boolean; raw?: boolean }): boolean | 'raw' {
  return options.raw ? 'raw' : !!options.json;
}

/** Parses a `--limit`/`--lines` count: a whole number, 0 or more. */
export function parseCount(value: string | number, option: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || (typeof value === 'string' && value.trim() === '')) {
    throw new CliError(`${option} must be a whole number (0 or more), not ${value}`, EXIT.usage);
  }
  return n;
}

/** `agent-records cat`: exit 1 when the log holds lines that are not records. */
export async function runCat(
  args: {
    log: string;
    type?: string[];
    since?: string;
    until?: string;
    limit?: string;
    json?: boolean;
    raw?: boolean;
  },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const options: PrintOptions = {
      types: args.type,
      since: args.since === undefined ? undefined : parseTime(args.since, '--since'),
      until: args.until === undefined ? undefined : parseTime(args.until, '--until'),
      limit: args.limit === undefined ? undefined : parseCount(args.limit, '--limit'),
      json: args.json,
      raw: args.raw,
    };
    const problems = await catLog(args.log, options, io);
    return problems > 0 ? EXIT.problems : EXIT.ok;
  });
}

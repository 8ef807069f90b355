import { EXIT, fileError } from '../errors.js';
import { count, formatBytes } from '../format.js';
import { type CliIo, runGuarded } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import { formatTime } from '../summary.js';
import { terminalJsonReport, terminalTextDeep } from '../terminal-text.js';
import { type WriteInProgress, writeInProgress } from '../write-in-progress.js';

/** How many of the largest records `stats` lists. */
const LARGEST = 5;

export interface LogStats {
  file: string;
  records: number;
  /** Bytes of the record lines, newlines included. */
  bytes: number;
  byType: Record<string, { count: number; bytes: number }>;
  firstTime: number | null;
  lastTime: number | null;
  /** `lastTime - firstTime`, in ms (0 for fewer than two timed records). */
  spanMs: number;
  averageBytes: number;
  /** Records per minute over the time span, or null when the span is empty. */
  perMinute: number | null;
  largest: { line: number; type: string; bytes: number }[];
  /** Lines that are not records (`validate` lists them). */
  problems: number;
  /**
   * The last line, unfinished, of a log whose lock a live writer holds: its write in progress,
   * not counted as a problem (see `writeInProgress`).
   */
  writeInProgress?: WriteInProgress;
}

/**
 * Usage figures of a log, in one streaming pass: what it holds and how fast it grew, as opposed
 * to `inspect`'s health view (version, problems, lock, blobs). `-` reads standard input.
 */
export async function statsLog(file: string, io?: Pick<CliIo, 'err' | 'stdin'>): Promise<LogStats> {
  const info = await assertLogFile(file, { allowStdin: true });
  const stats: LogStats = {
    file,
    records: 0,
    bytes: 0,
    byType: {},
    firstTime: null,
    lastTime: null,
    spanMs: 0,
    averageBytes: 0,
    perMinute: null,
    largest: [],
    problems: 0,
  };
  const progress = info ? progressFor(info.size, 'stats', io?.err ?? process.stderr) : null;
  try {
    for await (const line of scanLines(file, { onProgress: progress?.update, stdin: io?.stdin })) {
      if (line.problem) {
        const inProgress = await writeInProgress(file, line);
        if (inProgress) stats.writeInProgress = inProgress;
        else stats.problems++;
      }
      const record = line.record;
      if (!record) continue;
      const bytes = line.bytes + (line.complete ? 1 : 0);
      stats.records++;
      stats.bytes += bytes;
      const entry = stats.byType[record.type] ?? { count: 0, bytes: 0 };
      entry.count++;
      entry.bytes += bytes;
      stats.byType[record.type] = entry;
      if (typeof record.time === 'number') {
        stats.firstTime = Math.min(stats.firstTime ?? record.time, record.time);
        stats.lastTime = Math.max(stats.lastTime ?? record.time, record.time);
      }
      const smallest = stats.largest.at(-1);
      if (stats.largest.length < LARGEST || (smallest && bytes > smallest.bytes)) {
        stats.largest.push({ line: line.line, type: record.type, bytes });
        stats.largest.sort((a, b) => b.bytes - a.bytes || a.line - b.line);
        stats.largest.length = Math.min(stats.largest.length, LARGEST);
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress?.done();
  }
  if (stats.firstTime !== null && stats.lastTime !== null) {
    stats.spanMs = stats.lastTime - stats.firstTime;
  }
  stats.averageBytes = stats.records > 0 ? Math.round(stats.bytes / stats.records) : 0;
  stats.perMinute =
    stats.spanMs > 0 ? Math.round((stats.records / (stats.spanMs / 60_000)) * 100) / 100 : null;
  return stats;
}

function formatSpan(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const parts: string[] = [];
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

function printStats(unsafeStats: LogStats, io: CliIo): void {
  const stats = terminalTextDeep(unsafeStats);
  const lines = [
    `file:         ${stats.file}`,
    `records:      ${count(stats.records, 'record')} (${formatBytes(stats.bytes)})`,
    `average:      ${formatBytes(stats.averageBytes)} per record`,
    `time span:    ${formatTime(stats.firstTime)} .. ${formatTime(stats.lastTime)} (${formatSpan(stats.spanMs)})`,
    `rate:         ${stats.perMinute === null ? '-' : `${stats.perMinute} records per minute`}`,
  ];
  const types = Object.entries(stats.byType).sort((a, b) => b[1].bytes - a[1].bytes);
  if (types.length > 0) {
    lines.push('by type:');
    const width = Math.max(...types.map(([type]) => type.length));
    for (const [type, entry] of types) {
      const share = stats.bytes > 0 ? ((entry.bytes / stats.bytes) * 100).toFixed(1) : '0.0';
      lines.push(
        `  ${type.padEnd(width)}  ${count(entry.count, 'record').padStart(16)}  ${formatBytes(entry.bytes).padStart(12)}  ${share.padStart(5)}%`,
      );
    }
  }
  if (stats.largest.length > 0) {
    lines.push('largest:');
    for (const big of stats.largest) {
      lines.push(`  ${stats.file}:${big.line}  ${big.type}  ${formatBytes(big.bytes)}`);
    }
  }
  if (stats.writeInProgress) {
    const w = stats.writeInProgress;
    lines.push(
      `in progress:  ${count(w.bytes, 'byte')} at offset ${w.offset}, being written by process ${w.pid} (not counted)`,
    );
  }
  if (stats.problems > 0) {
    lines.push(
      `not records:  ${count(stats.problems, 'line')} (\`agent-records validate\` lists them)`,
    );
  }
  io.out.write(`${lines.join('\n')}\n`);
}

/** `agent-records stats`: exit 0, or 1 when some lines are not records (they are not counted). */
export async function runStats(args: { log: string; json?: boolean }, io: CliIo): Promise<number> {
  return runGuarded(io, async () => {
    const stats = await statsLog(args.log, io);
    if (args.json) io.out.write(`${terminalJsonReport(stats)}\n`);
    else printStats(stats, io);
    return stats.problems > 0 ? EXIT.problems : EXIT.ok;
  });
}

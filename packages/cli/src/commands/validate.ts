import { parseProtocolVersion } from '@agent-records/types';
import { EXIT, fileError } from '../errors.js';
import { count } from '../format.js';
import { type CliIo, runGuarded } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import { SnapshotCheck, type SnapshotReport, type UnreadableSnapshot } from '../snapshot-check.js';
import { terminalText } from '../terminal-text.js';
import {
  describeWriteInProgress,
  type WriteInProgress,
  writeInProgress,
} from '../write-in-progress.js';
import type { LogProblem } from './inspect.js';

export interface ValidationResult {
  file: string;
  records: number;
  problems: LogProblem[];
  problemCount: number;
  /**
   * The log's snapshot checked against it (`null`: none, or standard input). A snapshot that
   * does not match is a warning, not a problem of the log: a replay ignores it.
   */
  snapshot: SnapshotReport | UnreadableSnapshot | null;
  /**
   * The last line, unfinished, of a log whose lock a live writer holds: its write in progress,
   * not a problem (see `writeInProgress`).
   */
  writeInProgress?: WriteInProgress;
}

/**
 * Checks that every line is a record and the first record is metadata with a valid protocol
 * version. Streams; keeps the first 1,000 problems.
 */
export async function validateLog(
  file: string,
  io?: Pick<CliIo, 'err' | 'stdin'>,
): Promise<ValidationResult> {
  const info = await assertLogFile(file, { allowStdin: true });
  // Read first: the scan counts the records before its position.
  const snapshot = info ? await SnapshotCheck.load(file) : null;
  const result: ValidationResult = {
    file,
    records: 0,
    problems: [],
    problemCount: 0,
    snapshot: null,
  };
  const add = (problem: LogProblem) => {
    result.problemCount++;
    if (result.problems.length < 1000) result.problems.push(problem);
  };
  const progress = progressFor(info?.size ?? 0, 'validate', io?.err ?? process.stderr);
  try {
    for await (const line of scanLines(file, { onProgress: progress.update, stdin: io?.stdin })) {
      snapshot?.see(line);
      if (line.problem) {
        const inProgress = await writeInProgress(file, line);
        if (inProgress) result.writeInProgress = inProgress;
        else add({ line: line.line, offset: line.offset, problem: line.problem });
        continue;
      }
      const record = line.record;
      if (!record) continue;
      result.records++;
      if (result.records === 1 && record.type !== 'metadata') {
        add({
          line: line.line,
          offset: line.offset,
          problem: `first record is of type "${record.type}", not metadata: the log's protocol version is unknown`,
        });
      }
      if (record.type === 'metadata') {
        const version = (record as { protocol_version?: unknown }).protocol_version;
        try {
          parseProtocolVersion(version as string);
        } catch (error) {
          add({ line: line.line, offset: line.offset, problem: (error as Error).message });
        }
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress.done();
  }
  if (result.records === 0 && result.problemCount === 0) {
    add({ line: 0, offset: 0, problem: 'the log is empty: no metadata record' });
  }
  if (snapshot) result.snapshot = await snapshot.report();
  return result;
}

/** `agent-records validate`: each problem on stdout as `file:line:offset: what`; exit 1 if any. */
export async function runValidate(args: { log: string }, io: CliIo): Promise<number> {
  return runGuarded(io, async () => {
    const { log } = args;
    const result = await validateLog(log, io);
    for (const p of result.problems) {
      io.out.write(`${log}:${p.line}:${p.offset}: ${terminalText(p.problem)}\n`);
    }
    if (result.problemCount > result.problems.length) {
      io.out.write(
        `... and ${count(result.problemCount - result.problems.length, 'more problem', 'more problems')}\n`,
      );
    }
    warnAboutSnapshot(result, io);
    const inProgress = result.writeInProgress
      ? `; ${describeWriteInProgress(result.writeInProgress)}`
      : '';
    if (result.problemCount === 0) {
      const snapshot =
        result.snapshot && 'matches' in result.snapshot && result.snapshot.matches
          ? `; its snapshot, covering ${count(result.snapshot.records, 'record')}, matches`
          : '';
      io.err.write(
        `${log}: valid (${count(result.records, 'record')}${snapshot}${terminalText(inProgress)})\n`,
      );
      return EXIT.ok;
    }
    if (inProgress) io.err.write(`${log}: note: ${terminalText(inProgress.slice(2))}\n`);
    const fix =
      log === '-'
        ? 'Save it to a file and run `agent-records repair` on it'
        : `Run \`agent-records repair ${log}\``;
    io.err.write(
      `${log}: ${count(result.problemCount, 'problem')}. ${fix} to move bad lines aside.\n`,
    );
    return EXIT.problems;
  });
}

/**
 * A snapshot that does not match its log (or cannot be read) is a warning, like every other
 * warning of the CLI: on stderr, the exit code unchanged. It is harmless (a replay checks the
 * snapshot's position and reads the whole log instead), so `validate` still answers whether the
 * log itself is valid.
 */
function warnAboutSnapshot(result: ValidationResult, io: CliIo): void {
  const snapshot = result.snapshot;
  if (!snapshot) return;
  // Not checked (the log has problem lines; `repair` moves them aside and deletes the
  // snapshot): the problems are the news, not the snapshot.
  const what =
    'unreadable' in snapshot
      ? `its snapshot cannot be read (${snapshot.unreadable})`
      : snapshot.matches === false
        ? `its snapshot does not match the log: ${snapshot.problem}`
        : null;
  if (what === null) return;
  io.err.write(
    `agent-records: warning: ${result.file}: ${terminalText(what)}. It is harmless: a replay ignores it and ` +
      `reads the whole log; deleting ${snapshot.file} is safe (the next snapshot replaces it).\n`,
  );
}

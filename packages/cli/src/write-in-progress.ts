import { readLockHolder } from '@agent-records/fs-persistence';
import { STDIN } from './log-file.js';
import type { ScannedLine } from './scan.js';

/** The last line of a live log that its writer has not finished writing yet. */
export interface WriteInProgress {
  /** Byte offset of the line's start. */
  offset: number;
  /** Bytes written of it so far. */
  bytes: number;
  /** The writer holding the log's lock. */
  pid: number;
  host: string;
}

/**
 * Whether `line`, a last line without its newline that is not a record (what a crash leaves
 * as a torn tail), is instead a write in progress: the log's lock is held by a live writer
 * (`readLockHolder`: alive on this host, or another host's, which cannot be judged). A writer
 * cuts a torn tail off before its first append, so while one holds the lock, an unfinished last
 * line is its own write, not damage: validate, inspect, stats and cat report it as such (not a
 * problem, exit code unchanged) and never point at `repair`, which would refuse a locked log
 * anyway. The lock is looked at after the line was read: a writer holding it then held it
 * while the line was being written (or took it over and cut the line off meanwhile).
 * Standard input has no lock: a torn tail there stays a problem.
 */
export async function writeInProgress(
  file: string,
  line: Pick<ScannedLine, 'offset' | 'bytes' | 'complete' | 'problem'>,
): Promise<WriteInProgress | null> {
  if (file === STDIN || line.complete || line.problem === undefined) return null;
  const holder = await readLockHolder(`${file}.lock`).catch(() => null);
  if (!holder?.alive) return null;
  return { offset: line.offset, bytes: line.bytes, pid: holder.pid, host: holder.host };
}

/** `the last 20 bytes (offset 130) are a write in progress by process 12 on host h`. */
export function describeWriteInProgress(write: WriteInProgress): string {
  return (
    `the last ${write.bytes} bytes (offset ${write.offset}) are a write in progress by process ` +
    `${write.pid} on host ${write.host}, which holds the lock: not damage`
  );
}

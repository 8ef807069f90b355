import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, type FileHandle, open, realpath, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { refreshLogSummary, removeSnapshotFile } from '@agent-records/fs-persistence';
import { CliError, EXIT, fileError } from '../errors.js';
import { count } from '../format.js';
import { type CliIo, runGuarded, terminalLines } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { scanLines } from '../scan.js';
import { holdWriterLocks, refuseLiveWriter } from '../writer-lock.js';
import type { LogProblem } from './inspect.js';

export interface RepairResult {
  file: string;
  dryRun: boolean;
  /** Lines kept in the repaired log. */
  kept: number;
  /** Lines moved to the quarantine file (torn tail included). */
  moved: LogProblem[];
  /** A last record that lacked its newline (another writer's style) and got one. */
  addedFinalNewline: boolean;
  backupFile?: string;
  quarantineFile?: string;
  /** The snapshot beside the log was deleted (before the log was replaced). */
  removedSnapshot?: boolean;
  /** The stale writer lock (its process gone) that repair took over while it worked. */
  tookOverStaleLock?: { pid: number; host: string };
}

/** Buffered writes to a file that is fsynced before it is closed. */
class SyncedWriter {
  #chunks: Buffer[] = [];
  #size = 0;
  #position = 0;
  private constructor(private readonly handle: FileHandle) {}
  static async create(file: string): Promise<SyncedWriter> {
    return new SyncedWriter(await open(file, 'wx', 0o600));
  }
  async write(bytes: Buffer): Promise<void> {
    this.#chunks.push(Buffer.from(bytes), NEWLINE);
    this.#size += bytes.length + 1;
    if (this.#size >= 1024 * 1024) await this.#drain();
  }
  /** Copies `length` bytes of `source` from `offset`, then a newline: a line too long to hold. */
  async copyLine(source: FileHandle, offset: number, length: number): Promise<void> {
    await this.#drain();
    const piece = Buffer.allocUnsafe(Math.min(length, 1024 * 1024));
    for (let done = 0; done < length; ) {
      const { bytesRead } = await source.read(
        piece,
        0,
        Math.min(piece.length, length - done),
        offset + done,
      );
      if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${offset + done}`);
      this.#chunks.push(Buffer.from(piece.subarray(0, bytesRead)));
      this.#size += bytesRead;
      done += bytesRead;
      await this.#drain();
    }
    await this.write(Buffer.alloc(0));
  }
  async #drain(): Promise<void> {
    const buffer = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#size = 0;
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await this.handle.write(
        buffer,
        done,
        buffer.length - done,
        this.#position,
      );
      done += bytesWritten;
      this.#position += bytesWritten;
    }
  }
  async close(): Promise<void> {
    await this.#drain();
    await this.handle.sync();
    await this.handle.close();
  }
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

const NEWLINE = Buffer.from('\n');

/** Test seam (not exported from the package): runs after the copy, before the rename. */
export const repairTestHooks: { beforeReplace?: () => Promise<void> } = {};

/**
 * Repairs a log without deleting a byte: lines that are not records (a torn tail included) move
 * to `<log>.quarantine-<stamp>`, the original is kept as `<log>.backup-<stamp>`, and the repaired
 * log replaces it atomically (temp file, fsync, rename, directory fsync). The log's snapshot is
 * deleted before the rename.
 *
 * A repair holds the log's writer lock (the backend's own lock file, `acquireWriterLock`) from
 * before it reads the log for the copy until the repaired log and its directory are durable: a
 * writer that resumed the log earlier and writes meanwhile is refused with `RecordsLockedError`
 * instead of appending to the file the rename is about to replace (where its records would
 * vanish with a resolved `flush()`). A live writer's lock refuses the repair (exit 4); a stale
 * one is taken over, as a writer does. A dry run, and a look that finds nothing to repair, read
 * without the lock (readers need none), so they never refuse an agent's write.
 */
export async function repairLog(
  file: string,
  options: { dryRun?: boolean } = {},
): Promise<RepairResult> {
  const dryRun = options.dryRun ?? false;
  await assertLogFile(file);
  await refuseLiveWriter(file, 'repairing');
  const planned = await planRepair(file, dryRun);
  if (dryRun || !needsRepair(planned)) return planned;

  const lock = await holdWriterLocks(file, 'repairing');
  try {
    // Planned again under the lock: a writer may have changed the log since the first look.
    const result = await planRepair(file, false);
    if (lock.tookOverFrom) {
      result.tookOverStaleLock = { pid: lock.tookOverFrom.pid, host: lock.tookOverFrom.host };
    }
    if (needsRepair(result)) await replaceLog(file, result);
    return result;
  } finally {
    await lock.release();
  }
}

const needsRepair = (result: RepairResult) => result.moved.length > 0 || result.addedFinalNewline;

/** Scans the log: which lines would move, how many stay. */
async function planRepair(file: string, dryRun: boolean): Promise<RepairResult> {
  const result: RepairResult = { file, dryRun, kept: 0, moved: [], addedFinalNewline: false };
  try {
    for await (const line of scanLines(file)) {
      if (line.problem)
        result.moved.push({ line: line.line, offset: line.offset, problem: line.problem });
      else {
        result.kept++;
        if (!line.complete && line.bytes > 0) result.addedFinalNewline = true;
      }
    }
  } catch (error) {
    throw fileError(file, error);
  }
  return result;
}

/** Copies the log without its bad lines and renames the copy over it (the caller holds the lock). */
async function replaceLog(file: string, result: RepairResult): Promise<void> {
  const stamp = backupStamp();
  // A symlinked log: the file it points to is replaced, the symlink stays (as the backend's
  // rewrite does); backup and quarantine stay beside the name the user gave.
  const target = await realpath(file);
  const dir = path.dirname(target);
  result.backupFile = `${file}.backup-${stamp}`;
  const temp = path.join(dir, `.${path.basename(target)}.repair-${randomUUID()}.tmp`);
  let output: SyncedWriter | undefined;
  let quarantine: SyncedWriter | undefined;
  let source: FileHandle | undefined;
  try {
    await keepBackup(file, result.backupFile);
    output = await SyncedWriter.create(temp);
    if (result.moved.length > 0) {
      result.quarantineFile = `${file}.quarantine-${stamp}`;
      quarantine = await SyncedWriter.create(result.quarantineFile);
    }
    source = await open(file, 'r');
    for await (const line of scanLines(file)) {
      // A line longer than a reader holds comes without its bytes: copy them from the file.
      if (line.problem && line.raw.length < line.bytes) {
        await quarantine?.copyLine(source, line.offset, line.bytes);
      } else if (line.problem) await quarantine?.write(line.raw);
      else await output.write(line.raw);
    }
    await source.close();
    source = undefined;
    await output.close();
    await quarantine?.close();
    await repairTestHooks.beforeReplace?.();
    // The snapshot goes first, durably: a crash between the two then leaves the old log without
    // a snapshot (a full replay), never the repaired log beside a snapshot of the old one.
    // A writer keeps them beside the name it opened the log by: for a symlinked log, both.
    const names = target === path.resolve(file) ? [file] : [file, target];
    result.removedSnapshot = false;
    for (const name of names) {
      const removed = await removeSnapshotFile(name).catch((error) => {
        throw new CliError(
          `${file}: not repaired: its snapshot could not be deleted first (${(error as Error).message}). ` +
            'Delete it (it is safe: a replay only reads it to go faster) and run repair again.',
          EXIT.io,
        );
      });
      result.removedSnapshot ||= removed;
    }
    await rename(temp, target);
    await syncFile(dir);
    // Its summary described the old file: recount it for the repaired one, keeping its title.
    for (const name of names) await refreshLogSummary(name).catch(() => {});
  } catch (error) {
    await source?.close().catch(() => {});
    await output?.abandon();
    await quarantine?.abandon();
    await unlink(temp).catch(() => {});
    if (error instanceof CliError) throw error;
    throw fileError(file, error);
  }
}

/** The time stamp of backup and quarantine file names (`2026-11-29T00-54-51-123Z`). */
export function backupStamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Copies `file` to `backupFile` (never over an existing file) and makes the copy durable. */
export async function keepBackup(file: string, backupFile: string): Promise<void> {
  await copyFile(file, backupFile, constants.COPYFILE_EXCL);
  await syncFile(backupFile);
  await syncFile(path.dirname(path.resolve(backupFile)));
}

async function syncFile(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `agent-records repair`: exit 0 when repaired or nothing to do, 1 for a dry run that found work. */
export async function runRepair(
  args: { log: string; dryRun?: boolean },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const { log } = args;
    const result = await repairLog(log, { dryRun: args.dryRun });
    const out: string[] = [];
    const verb = result.dryRun ? 'would move' : 'moved';
    for (const p of result.moved) out.push(`${verb} ${log}:${p.line}:${p.offset} (${p.problem})`);
    if (result.addedFinalNewline) {
      out.push(
        `${result.dryRun ? 'would add' : 'added'} the newline missing after the last record`,
      );
    }
    let code: number = EXIT.ok;
    if (result.moved.length === 0 && !result.addedFinalNewline) {
      out.push(`${log}: nothing to repair (${count(result.kept, 'line')})`);
    } else if (result.dryRun) {
      out.push(`dry run: ${count(result.kept, 'line')} would stay; nothing was changed`);
      code = EXIT.problems;
    } else {
      out.push(`kept ${count(result.kept, 'line')} in ${log}`);
      out.push(`original kept as ${result.backupFile}`);
      if (result.quarantineFile) out.push(`moved lines are in ${result.quarantineFile}`);
      if (result.removedSnapshot) {
        out.push('deleted its snapshot (it described the old log; the next one is taken anew)');
      }
    }
    if (result.tookOverStaleLock) {
      const { pid, host } = result.tookOverStaleLock;
      out.push(
        `took over the stale lock of process ${pid} on ${host} (no longer running); released it`,
      );
    }
    io.out.write(`${terminalLines(out.join('\n'))}\n`);
    return code;
  });
}

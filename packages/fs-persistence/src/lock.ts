import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { ErrorReporter } from '@agent-records/backend-kit';
import { RecordsLockedError } from '@agent-records/types';
import {
  errorCode,
  type FileOperations,
  nodeFileOperations,
  readTextFile,
  writeFully,
} from './file-operations.js';

/** What a lock file holds (one JSON object and a newline). */
interface LockContent {
  pid: number;
  /** Random per writer instance: tells two instances of one process apart. */
  token: string;
  host: string;
  /** The kernel's boot id (`/proc/sys/kernel/random/boot_id`), when readable. */
  boot_id?: string;
  /** The process's start time in clock ticks since boot (`/proc/<pid>/stat`), when readable. */
  started?: string;
  /** Epoch ms. */
  acquired_at: number;
}

/** How a lock's holder was judged. */
export type LockHolderState =
  /** A running process of this host (this one included, for another instance in it). */
  | 'alive'
  /** Its pid is gone on this host, or now names a process started later (a reused pid). */
  | 'dead'
  /** Written on this host in an earlier boot (a reboot or a restarted container). */
  | 'previous-boot'
  /** Another host's: this host cannot tell whether it runs. Never taken over silently. */
  | 'other-host';

/** What is known about a lock file's holder. */
export interface LockHolder extends LockContent {
  /** False when the lock is stale (`dead`, `previous-boot`); true when alive or unknowable. */
  alive: boolean;
  state: LockHolderState;
}

const TOKEN = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Reads the holder of `lockFile`, or null when there is no lock. A file that is not a lock
 * (garbage, `null`, any JSON that is not a lock object) is a `RecordsLockedError` naming it and
 * saying how to clear it: locks are linked into place fully written, so such a file was not
 * written by a writer of this library, and nothing tells whether its owner still writes.
 */
export async function readLockHolder(
  lockFile: string,
  ops: FileOperations = nodeFileOperations,
): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await readTextFile(ops, lockFile);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
  const content = parseLock(text);
  if (typeof content === 'string') {
    const log = lockFile.endsWith('.lock') ? lockFile.slice(0, -'.lock'.length) : lockFile;
    throw new RecordsLockedError(
      `${lockFile} is not a lock file (${content}; it holds ${JSON.stringify(text.slice(0, 80))}), ` +
        `so nothing tells whether someone still writes ${log}. If no writer uses that log, run ` +
        `\`agent-records unlock --force ${log}\` to remove it.`,
    );
  }
  const state = await judge(content, ops);
  return { ...content, alive: state === 'alive' || state === 'other-host', state };
}

/** The lock, or why the text is not one. */
function parseLock(text: string): LockContent | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a lock object`;
  }
  const v = value as Record<string, unknown>;
  if (!Number.isInteger(v.pid) || (v.pid as number) <= 0) return 'no valid `pid`';
  if (typeof v.token !== 'string' || !TOKEN.test(v.token)) return 'no valid `token`';
  if (typeof v.host !== 'string') return 'no `host`';
  if (typeof v.acquired_at !== 'number') return 'no `acquired_at`';
  if (v.boot_id !== undefined && typeof v.boot_id !== 'string') return '`boot_id` not a string';
  if (v.started !== undefined && typeof v.started !== 'string') return '`started` not a string';
  return v as unknown as LockContent;
}

let bootId: Promise<string | undefined> | undefined;
function thisBootId(ops: FileOperations): Promise<string | undefined> {
  bootId ??= readTextFile(ops, '/proc/sys/kernel/random/boot_id').then(
    (text) => text.trim() || undefined,
    () => undefined,
  );
  return bootId;
}

/** Field 22 of `/proc/<pid>/stat` (start time in ticks since boot); undefined off Linux. */
async function processStart(pid: number, ops: FileOperations): Promise<string | undefined> {
  try {
    const stat = await readTextFile(ops, `/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

async function judge(content: LockContent, ops: FileOperations): Promise<LockHolderState> {
  if (content.host !== hostname()) return 'other-host';
  const boot = await thisBootId(ops);
  if (content.boot_id !== undefined && boot !== undefined && content.boot_id !== boot) {
    return 'previous-boot';
  }
  if (!pidRuns(content.pid)) return 'dead';
  // The pid runs, but a restarted container (same boot id) reuses small pids: the start time
  // tells the process that wrote the lock from a newer one under the same pid. Locks without
  // it (older writers, no /proc) keep the conservative answer: alive.
  if (content.started !== undefined) {
    const started = await processStart(content.pid, ops);
    if (started !== undefined && started !== content.started) return 'dead';
  }
  return 'alive';
}

function describeHolder(holder: LockHolder): string {
  const since = Number.isFinite(holder.acquired_at)
    ? new Date(holder.acquired_at).toISOString()
    : 'an unknown time';
  return `process ${holder.pid} on host ${holder.host} since ${since}`;
}

/** The error for a lock that is not ours and may not be taken over. */
export function lockedError(holder: LockHolder, lockFile: string, logFile: string): Error {
  if (holder.state === 'other-host') {
    return new RecordsLockedError(
      `${logFile} is locked by ${describeHolder(holder)} (lock ${lockFile}). This host cannot ` +
        'tell whether that writer still runs, so it never takes the lock over by itself. If no ' +
        `writer on ${holder.host} uses the log, run \`agent-records unlock --force ${logFile}\`.`,
    );
  }
  const who =
    holder.pid === process.pid ? 'another instance in this process' : `process ${holder.pid}`;
  return new RecordsLockedError(
    `${logFile} is being written by ${who} (lock ${lockFile}, ${describeHolder(holder)}). Only ` +
      'one writer may append to a log: close the other writer, or open this one read-only. ' +
      'Its records were not written.',
  );
}

/**
 * Lock-file operations under one identity (pid, host, boot id, start time, token).
 *
 * Taking over a stale lock is one atomic step for everyone. A plain "judge it dead, then unlink
 * it" lets two writers both judge the same stale lock, one unlink it and create its own, and the
 * other then unlink that fresh lock and create a third: two writers. Renaming the stale file
 * aside first does not help either: the second renamer moves the first one's fresh lock away.
 * So a take-over of the lock with token T first creates the claim file `<lock>.break-<T>`
 * exclusively (a hard link: exactly one creator wins). While T's lock file and T's claim both
 * exist, nothing can replace the lock: creators get EEXIST, other breakers cannot claim T, and T
 * itself is dead. The claimer re-reads the lock: if it still names T, it renames its own fully
 * written lock over it (atomic: the lock path never goes missing, so no third writer can slip
 * in), then removes the claim; if it names someone else, the take-over already happened and the
 * claimer backs off. Token values are unique per instance, so T can never come back. A claimer
 * that dies leaves a claim naming a dead process: it is broken the same way, by claiming its
 * token. The CLI's `unlock` removes a lock through the same claim, so it cannot race a writer.
 */
class LockIdentity {
  readonly token = randomUUID();

  constructor(
    readonly ops: FileOperations,
    readonly lockFile: string,
    readonly mode: number,
  ) {}

  /** Our lock content, fully written to a private temp file; returns its path. */
  async writeTemp(): Promise<string> {
    const temp = `${this.lockFile}.${this.token}.tmp`;
    const fd = await this.ops.open(temp, 'w', this.mode);
    try {
      const content: LockContent = {
        pid: process.pid,
        token: this.token,
        host: hostname(),
        boot_id: await thisBootId(this.ops),
        started: await processStart(process.pid, this.ops),
        acquired_at: Date.now(),
      };
      await writeFully(this.ops, fd, Buffer.from(`${JSON.stringify(content)}\n`), 0);
      await this.ops.fsync(fd);
    } catch (error) {
      await this.ops.close(fd).catch(() => {});
      await this.ops.unlink(temp).catch(() => {});
      throw error;
    }
    await this.ops.close(fd);
    return temp;
  }

  /** Creates `target` holding our content, fully written or not at all; false if it exists. */
  async create(target: string): Promise<boolean> {
    const temp = await this.writeTemp();
    try {
      await this.ops.link(temp, target);
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    } finally {
      await this.ops.unlink(temp).catch(() => {});
    }
  }

  /**
   * Replaces `target`, which holds the stale token `staleToken`, by our lock (or removes it
   * with `remove`), atomically with respect to every other writer. False when someone else got
   * there first or is at it right now.
   */
  async takeOver(target: string, staleToken: string, remove = false, depth = 0): Promise<boolean> {
    const claim = `${this.lockFile}.break-${staleToken}`;
    if (!(await this.create(claim))) {
      const claimer = await readLockHolder(claim, this.ops).catch(() => null);
      if (!claimer || claimer.alive || depth >= 3) return false; // someone else is at it
      if (!(await this.takeOver(claim, claimer.token, false, depth + 1))) return false;
    }
    try {
      const current = await readLockHolder(target, this.ops).catch(() => null);
      if (current?.token !== staleToken) return false; // taken over (or removed) already
      if (remove) {
        await this.ops.unlink(target);
      } else {
        const temp = await this.writeTemp();
        try {
          await this.ops.rename(temp, target);
        } catch (error) {
          await this.ops.unlink(temp).catch(() => {});
          throw error;
        }
      }
      return true;
    } finally {
      await this.ops.unlink(claim).catch(() => {});
    }
  }
}

/**
 * A lock file beside the log holding the writer's pid, host, boot id, start time and an instance
 * token. Another live writer, in another process or in this one, makes `acquire` throw
 * `RecordsLockedError`; so does another host's lock (reported with whose it is and how to
 * clear it) and a file that is not a lock. A stale lock is taken over atomically, with a
 * `warning` to `errors` when given.
 */
export class WriterLock {
  readonly #identity: LockIdentity;
  #held = false;

  constructor(
    ops: FileOperations,
    readonly lockFile: string,
    private readonly logFile: string,
    mode: number,
    private readonly errors?: ErrorReporter,
  ) {
    this.#identity = new LockIdentity(ops, lockFile, mode);
  }

  get token(): string {
    return this.#identity.token;
  }

  get held(): boolean {
    return this.#held;
  }

  async acquire(): Promise<{ tookOverFrom?: LockHolder }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      let tookOverFrom: LockHolder | undefined;
      if (!(await this.#identity.create(this.lockFile))) {
        const holder = await readLockHolder(this.lockFile, this.#identity.ops);
        if (!holder) continue; // released between our attempts
        if (holder.token === this.token) return this.#taken({});
        if (holder.alive) throw lockedError(holder, this.lockFile, this.logFile);
        if (!(await this.#identity.takeOver(this.lockFile, holder.token))) continue;
        tookOverFrom = holder;
      }
      return this.#taken(tookOverFrom ? { tookOverFrom } : {});
    }
    throw new RecordsLockedError(
      `Could not take the lock ${this.lockFile} for ${this.logFile}: writers keep racing for it. ` +
        `Run \`agent-records unlock ${this.logFile}\` to see who holds it.`,
    );
  }

  #taken(result: { tookOverFrom?: LockHolder }): { tookOverFrom?: LockHolder } {
    this.#held = true;
    const stale = result.tookOverFrom;
    if (stale) {
      this.errors?.report(
        new RecordsLockedError(
          `Took over a stale lock on ${this.logFile} from process ${stale.pid}, which is ` +
            'no longer running.',
        ),
        { kind: 'warning' },
      );
    }
    return result;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const holder = await readLockHolder(this.lockFile, this.#identity.ops).catch(() => null);
    if (holder?.token === this.token) {
      await this.#identity.ops.unlink(this.lockFile).catch(() => {});
    }
  }
}

/** A writer lock held outside a backend instance (by `acquireWriterLock`). */
export interface HeldWriterLock {
  /** The lock file: `<log>.lock`, beside the log (its path resolved, as the backend does). */
  readonly lockFile: string;
  /** The stale lock this one replaced (its holder dead on this host, or of an earlier boot). */
  readonly tookOverFrom?: LockHolder;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the writer lock of `logFile`: the same lock file, content and take-over rules as the
 * backend's writer, so while it is held every writer of this library refuses to write the log
 * (`RecordsLockedError`), and a writer that holds it makes this throw `RecordsLockedError`.
 * For tools that replace or rewrite a log outside a backend (the CLI's `repair`): hold it from
 * before the first read of the log until the replaced log is durable, then `release()` it.
 * A stale lock is taken over atomically and returned as `tookOverFrom`; another host's lock
 * and a file that is not a lock are refused, as for a writer.
 */
export async function acquireWriterLock(
  logFile: string,
  options: { fileMode?: number; fileOperations?: FileOperations } = {},
): Promise<HeldWriterLock> {
  const file = path.resolve(logFile);
  const lock = new WriterLock(
    options.fileOperations ?? nodeFileOperations,
    `${file}.lock`,
    file,
    options.fileMode ?? 0o600,
  );
  const { tookOverFrom } = await lock.acquire();
  return {
    lockFile: lock.lockFile,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    release: () => lock.release(),
  };
}

/** What `unlockLog` found and did. */
export interface UnlockResult {
  lockFile: string;
  /** The holder, or null when there was no lock (or it was not a lock, see `notALock`). */
  holder: LockHolder | null;
  /** Why the file is not a lock, when it is not one. */
  notALock?: string;
  removed: boolean;
  /** Why it was not removed. */
  refused?: string;
}

/**
 * Removes the lock of `logFile` when its holder is dead on this host or of an earlier boot;
 * with `force`, also another host's lock or a file that is not a lock. Never removes the lock
 * of a live writer on this host. Goes through the same claim as a writer's take-over, so it
 * cannot remove a lock that a writer took over meanwhile.
 */
export async function unlockLog(
  logFile: string,
  options: { force?: boolean; fileOperations?: FileOperations } = {},
): Promise<UnlockResult> {
  const lockFile = `${logFile}.lock`;
  const ops = options.fileOperations ?? nodeFileOperations;
  let holder: LockHolder | null;
  try {
    holder = await readLockHolder(lockFile, ops);
  } catch (error) {
    if (!(error instanceof RecordsLockedError)) throw error;
    const notALock = error.message;
    if (!options.force) {
      return { lockFile, holder: null, notALock, removed: false, refused: 'not a lock' };
    }
    await ops.unlink(lockFile).catch((e) => {
      if (errorCode(e) !== 'ENOENT') throw e;
    });
    return { lockFile, holder: null, notALock, removed: true };
  }
  if (!holder) return { lockFile, holder: null, removed: false };
  if (holder.state === 'alive') {
    return { lockFile, holder, removed: false, refused: 'its writer is alive on this host' };
  }
  if (holder.state === 'other-host' && !options.force) {
    return { lockFile, holder, removed: false, refused: `it belongs to host ${holder.host}` };
  }
  const identity = new LockIdentity(ops, lockFile, 0o600);
  const removed = await identity.takeOver(lockFile, holder.token, true);
  return removed
    ? { lockFile, holder, removed }
    : { lockFile, holder, removed, refused: 'another writer took it over meanwhile' };
}

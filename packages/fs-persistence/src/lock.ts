import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { RecordsLockedError } from '@agent-records/types';
import { errorCode, type FileOperations } from './file-operations.js';
import { writeFully } from './tail.js';

interface LockContent {
  pid: number;
  token: string;
  host: string;
  acquired_at: number;
}

/** What is known about a lock file's holder. */
export interface LockHolder extends LockContent {
  /** False when the pid is gone on this host (a stale lock). */
  alive: boolean;
}

/** Reads the holder of `lockFile`, or null when there is no lock. */
export async function readLockHolder(lockFile: string): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await readFile(lockFile, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
  let content: LockContent;
  try {
    content = JSON.parse(text) as LockContent;
  } catch {
    // Locks are linked into place fully written, so this one was damaged by hand: no live holder.
    return { pid: 0, token: '', host: hostname(), acquired_at: 0, alive: false };
  }
  return { ...content, alive: isAlive(content) };
}

function isAlive(content: LockContent): boolean {
  if (content.host !== hostname()) return true; // cannot tell: assume alive
  if (!Number.isInteger(content.pid) || content.pid <= 0) return false;
  try {
    process.kill(content.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/**
 * A lock file beside the log holding the writer's pid and an instance token. Another live
 * writer, in another process or in this one, makes `acquire` throw `RecordsLockedError`; a lock
 * whose pid is dead on this host is taken over.
 */
export class WriterLock {
  readonly token = randomUUID();
  #held = false;

  constructor(
    private readonly ops: FileOperations,
    readonly lockFile: string,
    private readonly logFile: string,
    private readonly mode: number,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  async acquire(): Promise<{ tookOverFrom?: LockHolder }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.#tryCreate()) return {};
      const holder = await readLockHolder(this.lockFile);
      if (!holder) continue; // released between our attempts
      if (holder.token === this.token) {
        this.#held = true;
        return {};
      }
      if (holder.alive) {
        const who =
          holder.pid === process.pid ? 'another instance in this process' : `process ${holder.pid}`;
        throw new RecordsLockedError(
          `${this.logFile} is being written by ${who} (lock ${this.lockFile}, host ` +
            `${holder.host}). Only one writer may append to a log: close the other writer, or open ` +
            'this one read-only. Its records were not written.',
        );
      }
      // Stale: its pid is gone. Remove it only if it is still the same stale lock.
      const again = await readLockHolder(this.lockFile);
      if (again && again.token === holder.token && !again.alive) {
        await this.ops.unlink(this.lockFile).catch((error) => {
          if (errorCode(error) !== 'ENOENT') throw error;
        });
        if (await this.#tryCreate()) return { tookOverFrom: holder };
      }
    }
    throw new RecordsLockedError(
      `Could not take the lock ${this.lockFile} for ${this.logFile}: writers keep racing for it.`,
    );
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const holder = await readLockHolder(this.lockFile).catch(() => null);
    if (holder?.token === this.token) await this.ops.unlink(this.lockFile).catch(() => {});
  }

  /**
   * Creates the lock fully written or not at all: the content goes to a private temp file, which
   * is then hard-linked to the lock path (atomic, and EEXIST if someone holds it). A crash can
   * leave only the temp file, never a half-written lock.
   */
  async #tryCreate(): Promise<boolean> {
    const temp = `${this.lockFile}.${this.token}.tmp`;
    const fd = await this.ops.open(temp, 'w', this.mode);
    try {
      const content: LockContent = {
        pid: process.pid,
        token: this.token,
        host: hostname(),
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
    try {
      await this.ops.link(temp, this.lockFile);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    } finally {
      await this.ops.unlink(temp).catch(() => {});
    }
    this.#held = true;
    return true;
  }
}

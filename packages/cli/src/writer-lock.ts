import { realpath } from 'node:fs/promises';
import path from 'node:path';
import {
  acquireWriterLock,
  type HeldWriterLock,
  type LockHolder,
  readLockHolder,
} from '@agent-records/fs-persistence';
import { RecordsLockedError } from '@agent-records/types';
import { CliError, EXIT, fileError } from './errors.js';

/** Refusal of a log a live writer holds: exit 4, saying who and what to do. */
export function lockedByWriter(file: string, holder: LockHolder, doing: string): CliError {
  return new CliError(
    `${file}: locked by a live writer (pid ${holder.pid} on ${holder.host}). Stop that agent ` +
      `before ${doing} its log.`,
    EXIT.locked,
  );
}

/** Refuses (exit 4) a log whose lock a live writer holds, without taking the lock. */
export async function refuseLiveWriter(file: string, doing: string): Promise<void> {
  const holder = await readLockHolder(`${file}.lock`).catch(() => null);
  if (holder?.alive) throw lockedByWriter(file, holder, doing);
}

/**
 * Takes the log's writer lock (the backend's own lock file, `acquireWriterLock`) for a command
 * that replaces the log (`repair`, `migrate`): held from before it reads the log until the new
 * log is durable, so a writer that resumed the log earlier is refused (`RecordsLockedError`)
 * instead of appending to a file that is about to be replaced, or appending records the rewrite
 * never saw. A live writer's lock refuses the command (exit 4); a stale one is taken over as a
 * writer does; another host's lock or a file that is not a lock refuses it too, saying how to
 * clear it.
 */
export async function holdWriterLock(file: string, doing: string): Promise<HeldWriterLock> {
  try {
    return await acquireWriterLock(file);
  } catch (error) {
    if (!(error instanceof RecordsLockedError)) throw fileError(file, error);
    const holder = await readLockHolder(`${file}.lock`).catch(() => null);
    if (holder?.state === 'alive') throw lockedByWriter(file, holder, doing);
    throw new CliError(`${file}: ${error.message}`, EXIT.locked);
  }
}

/**
 * The writer locks of a log under each of its names: the path given and, for a symlinked log,
 * the file it points to. A writer's lock sits beside the path it opened the log by, so a
 * command that replaces the log takes both (in that order, releasing in reverse). Released
 * together.
 */
export async function holdWriterLocks(
  file: string,
  doing: string,
): Promise<{ release(): Promise<void>; tookOverFrom?: LockHolder }> {
  const names = [path.resolve(file)];
  const real = await realpath(file).catch(() => names[0] as string);
  if (real !== names[0]) names.push(real);
  const held: HeldWriterLock[] = [];
  try {
    for (const name of names) held.push(await holdWriterLock(name, doing));
  } catch (error) {
    for (const lock of held.reverse()) await lock.release();
    throw error;
  }
  const tookOverFrom = held.find((lock) => lock.tookOverFrom)?.tookOverFrom;
  return {
    ...(tookOverFrom ? { tookOverFrom } : {}),
    async release() {
      for (const lock of [...held].reverse()) await lock.release();
    },
  };
}

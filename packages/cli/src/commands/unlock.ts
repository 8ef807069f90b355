import path from 'node:path';
import { type LockHolder, unlockLog } from '@agent-records/fs-persistence';
import { EXIT } from '../errors.js';
import { type CliIo, processIo, runGuarded, terminalLines } from '../io.js';
import { assertLogFile } from '../log-file.js';

function describe(holder: LockHolder): string {
  const since = new Date(holder.acquired_at).toISOString();
  const state = {
    alive: 'running on this host',
    dead: 'no longer running',
    'previous-boot': 'from an earlier boot of this host',
    'other-host': 'on another host: this host cannot tell whether it runs',
  }[holder.state];
  return `process ${holder.pid} on host ${holder.host} since ${since} (${state})`;
}

/**
 * `agent-records unlock <log>`: says who holds the log's lock and removes it when its holder is
 * gone (dead on this host, or of an earlier boot); another host's lock or a file that is not a
 * lock only with `--force`; a live writer's lock on this host never. Returns the exit code.
 */
export async function unlockCommand(
  log: string,
  options: { force?: boolean },
  io: CliIo = processIo(),
): Promise<number> {
  return runGuarded(io, () => unlock(log, options, io));
}

/** `agent-records unlock`: exit 0 when removed or not locked, 4 when refused. */
export async function runUnlock(
  args: { log: string; force?: boolean },
  io: CliIo,
): Promise<number> {
  return unlockCommand(args.log, { force: args.force }, io);
}

async function unlock(log: string, options: { force?: boolean }, io: CliIo): Promise<number> {
  // A lock can outlive its log (a crash before the first write): a missing log is fine here.
  await assertLogFile(log, { allowMissing: true });
  const file = path.resolve(log);
  const result = await unlockLog(file, { force: options.force });
  // A lock file's host, or what a file that is not a lock holds, is shown made safe.
  if (result.holder) {
    io.out.write(`${result.lockFile}: held by ${terminalLines(describe(result.holder))}\n`);
  } else if (result.notALock) io.out.write(`${terminalLines(result.notALock)}\n`);
  if (result.removed) {
    io.out.write(`removed ${result.lockFile}\n`);
    return EXIT.ok;
  }
  if (!result.refused) {
    io.out.write(`${log}: not locked\n`);
    return EXIT.ok;
  }
  const hint =
    result.holder?.state === 'alive'
      ? `stop process ${result.holder.pid} (or close its writer) first; a live writer's lock is never removed`
      : result.holder?.state === 'other-host' || result.notALock
        ? `if no writer uses the log, run \`agent-records unlock --force ${log}\``
        : 'run the command again';
  io.err.write(
    `agent-records: ${result.lockFile} was not removed: ${terminalLines(result.refused)}; ${hint}.\n`,
  );
  return EXIT.locked;
}

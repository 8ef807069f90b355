import path from 'node:path';
import { type LockHolder, unlockLog } from '@agent-records/fs-persistence';
import { EXIT } from '../errors.js';

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
export async function unlockCommand(log: string, options: { force?: boolean }): Promise<number> {
  const file = path.resolve(log);
  const result = await unlockLog(file, { force: options.force });
  if (result.holder) console.log(`${result.lockFile}: held by ${describe(result.holder)}`);
  else if (result.notALock) console.log(result.notALock);
  if (result.removed) {
    console.log(`removed ${result.lockFile}`);
    return EXIT.ok;
  }
  if (!result.refused) {
    console.log(`${log}: not locked`);
    return EXIT.ok;
  }
  const hint =
    result.holder?.state === 'alive'
      ? `stop process ${result.holder.pid} (or close its writer) first; a live writer's lock is never removed`
      : result.holder?.state === 'other-host' || result.notALock
        ? `if no writer uses the log, run \`agent-records unlock --force ${log}\``
        : 'run the command again';
  console.error(`agent-records: ${result.lockFile} was not removed: ${result.refused}; ${hint}.`);
  return EXIT.locked;
}

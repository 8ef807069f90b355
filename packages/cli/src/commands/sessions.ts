import { FileSystemAgentRecordStore, type SessionInfo } from '@agent-records/fs-persistence';
import { EXIT } from '../errors.js';
import { formatBytes } from '../format.js';
import { type CliIo, runGuarded } from '../io.js';
import { formatTime } from '../summary.js';

export async function listSessions(root: string): Promise<SessionInfo[]> {
  return new FileSystemAgentRecordStore(root).list();
}

/** `agent-records sessions`: a table (or JSON) of a store's sessions. */
export async function runSessions(
  args: { root: string; json?: boolean },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const { root } = args;
    const sessions = await listSessions(root);
    if (args.json) {
      io.out.write(`${JSON.stringify(sessions, null, 2)}\n`);
      return EXIT.ok;
    }
    if (sessions.length === 0) {
      io.out.write(`${root}: no sessions\n`);
      return EXIT.ok;
    }
    const width = Math.max(2, ...sessions.map((s) => s.id.length));
    const lines = [
      `${'id'.padEnd(width)}  ${'records'.padStart(8)}  ${'size'.padStart(10)}  modified                  writer`,
    ];
    for (const s of sessions) {
      lines.push(
        `${s.id.padEnd(width)}  ${String(s.records ?? '?').padStart(8)}  ${formatBytes(s.size).padStart(10)}  ${formatTime(s.modifiedAt)}  ${s.lockedBy ? `pid ${s.lockedBy}` : '-'}`,
      );
    }
    io.out.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  });
}

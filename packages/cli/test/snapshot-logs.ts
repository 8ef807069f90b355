import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { META } from './helpers.js';

/**
 * A real log written through the fs backend with a real snapshot beside it: metadata and
 * `before - 1` records, a snapshot covering them (saying it covers `claims` records, `before`
 * unless a test wants a host that miscounted), then `after` more records.
 */
export async function logWithSnapshot(
  file: string,
  options: { before: number; after: number; claims?: number; state?: unknown },
): Promise<void> {
  const writer = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
  writer.append(JSON.parse(META));
  for (let i = 1; i < options.before; i++) writer.append({ type: 'note', time: i, n: i });
  if (!writer.writeSnapshot) {
    await writer.close();
    throw new Error('the fs backend keeps no snapshots yet');
  }
  writer.writeSnapshot({
    records: options.claims ?? options.before,
    data: JSON.stringify(options.state ?? { notes: options.before - 1 }),
  });
  for (let i = 0; i < options.after; i++) writer.append({ type: 'note', time: 1000 + i, n: i });
  await writer.close();
}

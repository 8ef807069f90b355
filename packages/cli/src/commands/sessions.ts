import { FileSystemAgentRecordStore, type SessionInfo } from '@agent-records/fs-persistence';

export async function listSessions(root: string): Promise<SessionInfo[]> {
  return new FileSystemAgentRecordStore(root).list();
}

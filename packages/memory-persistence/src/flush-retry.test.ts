import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { InMemoryAgentRecordPersistence } from './memory-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });

describe('flush() is the retry', () => {
  it('a flush() called after the fault cleared, while a write begun under it is failing, retries and resolves', async () => {
    const reports: string[] = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      onError: (_error, info: RecordsErrorInfo) => reports.push(info.kind),
    });
    // One failing attempt: the fault is gone once the write begun under it has failed.
    persistence.injectFault({ op: 'append', times: 1 });
    persistence.append(rec(1)); // its background write is scheduled under the fault
    const flushing = persistence.flush(); // called before that write has settled
    await expect(flushing).resolves.toBeUndefined();
    expect(persistence.records).toEqual([rec(1)]);
    expect(reports).toEqual(['write-failed', 'write-recovered']);
  });
});

import { describePersistenceModel } from '@agent-records/persistence-tests';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { InMemoryAgentRecordPersistence } from './memory-persistence.js';

describePersistenceModel(
  'InMemoryAgentRecordPersistence',
  () => {
    let current: InMemoryAgentRecordPersistence<AgentRecordEnvelope> | undefined;
    return {
      open(options) {
        // A new instance starts from what the previous one wrote, like reopening a file.
        current = new InMemoryAgentRecordPersistence<AgentRecordEnvelope>(
          current?.records ?? [],
          options,
        );
        return current;
      },
      // What the store holds right now: a copy of the written records, not the pending ones.
      openReader: () => new InMemoryAgentRecordPersistence(current?.records ?? []),
      injectWriteFault(persistence, error) {
        const target = persistence as InMemoryAgentRecordPersistence;
        target.injectFault({ op: 'append', error, times: Number.POSITIVE_INFINITY });
        target.injectFault({ op: 'rewrite', error, times: Number.POSITIVE_INFINITY });
        return { clear: () => target.clearFaults() };
      },
    };
  },
  { runs: 150 },
);

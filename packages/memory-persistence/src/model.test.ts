import { describePersistenceModel } from '@agent-records/persistence-tests';
import type { AgentRecordEnvelope } from '@agent-records/types';
import type { InMemoryAgentRecordPersistence } from './memory-persistence.js';
import { InMemoryAgentRecordStore } from './memory-store.js';

describePersistenceModel(
  'InMemoryAgentRecordPersistence',
  () => {
    // Through a store: a reopen shares the log, its generation, snapshot and title, as a file.
    const store = new InMemoryAgentRecordStore();
    return {
      open: (options) => store.open<AgentRecordEnvelope>('session', options),
      // Another persistence on the same log: what was written, nothing pending.
      openReader: () => store.open<AgentRecordEnvelope>('session'),
      injectWriteFault(persistence, error) {
        const target = persistence as InMemoryAgentRecordPersistence;
        target.injectFault({ op: 'append', error, times: Number.POSITIVE_INFINITY });
        target.injectFault({ op: 'rewrite', error, times: Number.POSITIVE_INFINITY });
        return { clear: () => target.clearFaults() };
      },
    };
  },
  { runs: 150, expectCapabilities: ['readFrom', 'snapshots', 'title'] },
);

import { describeStoreContract } from '@agent-records/persistence-tests';
import { InMemoryAgentRecordStore } from './memory-store.js';

describeStoreContract(
  'InMemoryAgentRecordStore',
  () => ({ store: new InMemoryAgentRecordStore() }),
  {
    runs: 60,
    expectCapabilities: ['readFrom', 'snapshots', 'title'],
    singleWriter: true,
  },
);

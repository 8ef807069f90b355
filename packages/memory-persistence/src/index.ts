export {
  type FaultOperation,
  type InjectedFault,
  InMemoryAgentRecordPersistence,
  type InMemoryAgentRecordPersistenceOptions,
} from './memory-persistence.js';
export { InMemoryAgentRecordStore } from './memory-store.js';

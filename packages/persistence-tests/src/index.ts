export {
  type ContractOpenOptions,
  describePersistenceContract,
  type InjectedWriteFault,
  type PersistenceContractOptions,
  type PersistenceContractSubject,
} from './contract.js';

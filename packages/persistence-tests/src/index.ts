export {
  type ContractOpenOptions,
  describePersistenceContract,
  type InjectedWriteFault,
  type PersistenceContractOptions,
  type PersistenceContractSubject,
} from './contract.js';
export {
  describePersistenceModel,
  type PersistenceModelOptions,
  type StoreRefusals,
} from './model.js';

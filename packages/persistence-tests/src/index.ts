export {
  ALL_CAPABILITIES,
  capabilitiesOf,
  type PersistenceCapability,
} from './capabilities.js';
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
export {
  describeStoreContract,
  type StoreContractOptions,
  type StoreContractSubject,
} from './store-contract.js';

// The state service's public surface: the logic, the storage contract and its lmdb implementation.
export {
  StateService,
  GenesisMismatchError,
  StateRequestError,
  stateKeyError,
  MAX_LOG_FILTER_ITEMS,
  MAX_TOPIC_POSITIONS,
  type StateServiceLimits,
  type StateServiceOptions,
} from './stateService.js';
export {
  HeightFenceError,
  HeightNotCommittedError,
  StateCorruptionError,
  type StateBackend,
  type StateMeta,
  type StateWrite,
  type CommitRecord,
  type CommitResult,
  type StoredBlock,
  type TxRecord,
  type LogQuery,
  type LogMatch,
} from './backend.js';
export { LmdbStateBackend, heightKey, versionedStateKey, type LmdbBackendOptions } from './lmdbBackend.js';
export { logMatches, bloomMayMatch, compileLogFilter, type LogFilterCriteria, type CompiledLogFilter } from './logFilter.js';
export { startStateService, openStateBackend, type RunningStateService, type StartStateServiceOptions } from './main.js';
// Types only: importing fdbBackend.js loads libfdb_c; openStateBackend imports it when configured.
export type { FdbStateBackend, FdbBackendOptions, FdbBackendError, CommitSupersededError } from './fdbBackend.js';
export { VersionedReadCache } from './versionedReadCache.js';

// The EVM layer: a journaled state view that records read-sets and write-sets, the transaction
// executor around @ethereumjs/vm, and the serial reference executor.
export {
  BASE_TX_INDEX,
  JournaledStateView,
  MapStateSource,
  type ReadVersion,
  type TxAccessSets,
  type VersionedRead,
  type VersionedStateSource,
} from './stateView.js';
export {
  ESTIMATE_GAS_RUNS_MAX,
  ExecutorInvariantError,
  INVALID_TX_ERROR_CODE,
  TxExecutor,
  UNDECODABLE_TX_ERROR_CODE,
  decodeRevertReason,
  type BlockEnv,
  type CallRequest,
  type CallResult,
  type EstimateGasResult,
  type TxExecutorOptions,
  type TxInput,
  type TxOutcome,
  type TxStatus,
} from './execute.js';
export { ReferenceExecutor, type ReferenceExecutorOptions } from './reference.js';

// Deterministic benchmark workloads (genesis + signed transactions + expected state), shared by
// the cluster benchmark (bench/) and in-process engine benchmarks.
export { WORKLOAD_KINDS, type PoolSpec, type TxEffect, type WorkloadContracts, type WorkloadKind, type WorkloadOptions, type WorkloadSpec, type WorkloadTx } from './types.js';
export {
  ACCOUNT_ETH_WEI, ACCOUNT_TOKEN_UNITS, MAX_ACCOUNTS, MIXED_PROFILE, POOL_LIQUIDITY_UNITS, TX_FEES,
  WorkloadGenerator, generateWorkload, isWorkloadKind, type GeneratedWorkload,
} from './workload.js';
export { ExpectedLedger, PLAIN_TRANSFER_GAS, uniswapAmountOut, type ExpectedValue, type StateQuery, type TxResult } from './ledger.js';
export { GENESIS_BASE_FEE_WEI, GENESIS_GAS_LIMIT, GENESIS_TIMESTAMP_SEC, WorkloadSetupError } from './genesisBuilder.js';
export { decodeWord } from './abi.js';
export { deriveAccount, signEip1559, type BenchAccount, type SignedTx } from './signer.js';

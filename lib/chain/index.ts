// The chain rules Lanes shares between services: chain parameters, transaction decoding and
// admission, genesis, and the errors clients see.
export { chainCommon, LANES_HARDFORK } from './common.js';
export {
  RpcError,
  RpcErrorCode,
  type RpcErrorCodeValue,
  ExecutionRevertedError,
  TxRejectedError,
  type TxRejectReason,
  TX_REJECT_MESSAGES,
  TX_REJECT_REASONS,
  isTxRejectReason,
  isTxRejectedError,
  parseError,
  invalidRequest,
  methodNotFound,
  invalidParams,
  internalError,
  limitExceeded,
} from './errors.js';
export {
  decodeTransaction,
  decodeTransactionHex,
  type DecodedTx,
  type AccessListEntry,
  MAX_INITCODE_BYTES,
  SENDER_RECOVERY_NATIVE,
} from './decode.js';
export {
  type AdmissionLimits,
  type AccountSnapshot,
  checkSize,
  checkStatic,
  checkAgainstAccount,
  intrinsicGas,
  maxCost,
} from './admission.js';
export {
  type Genesis,
  type GenesisAccount,
  type GenesisJson,
  type GenesisAccountJson,
  GenesisError,
  parseQuantity,
  parseGenesis,
  loadGenesis,
  resolveGenesis,
  genesisToJson,
  devGenesis,
  genesisStateEntries,
  DEV_ACCOUNTS,
  DEV_CHAIN_ID,
  DEV_ACCOUNT_BALANCE_WEI,
  DEV_COINBASE,
} from './genesis.js';

// The checks ingress runs before it accepts a decoded transaction: first those that need only the
// transaction and the chain's limits (checkStatic), then those against the sender's committed
// account (checkAgainstAccount). Pure functions; each failure is a TxRejectedError whose message
// starts with geth's text, so wallets recognise it.
import { TxRejectedError } from './errors.js';
import { MAX_INITCODE_BYTES, type DecodedTx } from './decode.js';

export interface AdmissionLimits {
  chainId: bigint;
  maxTxBytes: number;
  blockGasLimit: bigint;
  baseFeePerGas: bigint;
  /** A nonce is accepted when committed nonce <= nonce < committed nonce + nonceWindow. */
  nonceWindow: number;
}

export interface AccountSnapshot {
  nonce: bigint;
  balance: bigint;
}

// Gas schedule at Cancun (yellow paper G_transaction etc., EIP-2028, EIP-2930, EIP-3860).
const TX_GAS = 21_000n;
const TX_CREATE_GAS = 32_000n;
const TX_DATA_ZERO_GAS = 4n;
const TX_DATA_NONZERO_GAS = 16n;
const INITCODE_WORD_GAS = 2n;
const ACCESS_LIST_ADDRESS_GAS = 2_400n;
const ACCESS_LIST_STORAGE_KEY_GAS = 1_900n;

const hexAddress = (address: Uint8Array): string => '0x' + Buffer.from(address).toString('hex');

/**
 * Gas charged before execution starts (Cancun): 21000, 4 per zero and 16 per non-zero calldata
 * byte, 32000 + 2 per initcode word for a creation, 2400 per access-list address and 1900 per key.
 */
export function intrinsicGas(tx: Pick<DecodedTx, 'to' | 'data' | 'accessList'>): bigint {
  let zeroBytes = 0;
  const data = tx.data;
  for (let i = 0; i < data.length; i++) if (data[i] === 0) zeroBytes++;
  let gas = TX_GAS + BigInt(zeroBytes) * TX_DATA_ZERO_GAS + BigInt(data.length - zeroBytes) * TX_DATA_NONZERO_GAS;
  if (tx.to === null) gas += TX_CREATE_GAS + BigInt(Math.ceil(data.length / 32)) * INITCODE_WORD_GAS;
  let storageKeys = 0;
  for (const entry of tx.accessList) storageKeys += entry.storageKeys.length;
  gas += BigInt(tx.accessList.length) * ACCESS_LIST_ADDRESS_GAS + BigInt(storageKeys) * ACCESS_LIST_STORAGE_KEY_GAS;
  return gas;
}

/** Size check on the raw bytes alone: ingress can run it before paying for a decode. */
export function checkSize(rawBytes: number, limits: Pick<AdmissionLimits, 'maxTxBytes'>): void {
  if (rawBytes > limits.maxTxBytes) {
    throw new TxRejectedError('oversized-data', `transaction size ${rawBytes}, limit ${limits.maxTxBytes}`);
  }
}

function checkChainId(tx: DecodedTx, limits: AdmissionLimits): void {
  if (tx.chainId === null) {
    // A pre-EIP-155 signature is valid on every chain: accepting it would allow replays.
    throw new TxRejectedError('invalid-chain-id', 'only replay-protected (EIP-155) transactions allowed over RPC');
  }
  if (tx.chainId !== limits.chainId) {
    throw new TxRejectedError('invalid-chain-id', `have ${tx.chainId} want ${limits.chainId}`);
  }
}

function checkGas(tx: DecodedTx, limits: AdmissionLimits): void {
  if (tx.gasLimit > limits.blockGasLimit) {
    throw new TxRejectedError('gas-limit-exceeded', `gas ${tx.gasLimit}, block gas limit ${limits.blockGasLimit}`);
  }
  const minimum = intrinsicGas(tx);
  if (tx.gasLimit < minimum) {
    throw new TxRejectedError('intrinsic-gas-too-low', `gas ${tx.gasLimit}, minimum needed ${minimum}`);
  }
}

function checkFees(tx: DecodedTx, limits: AdmissionLimits): void {
  if (tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
    throw new TxRejectedError(
      'tip-above-fee-cap',
      `address ${hexAddress(tx.sender)}, maxPriorityFeePerGas: ${tx.maxPriorityFeePerGas}, maxFeePerGas: ${tx.maxFeePerGas}`,
    );
  }
  if (tx.maxFeePerGas < limits.baseFeePerGas) {
    throw new TxRejectedError(
      'fee-cap-below-base-fee',
      `address ${hexAddress(tx.sender)}, maxFeePerGas: ${tx.maxFeePerGas}, baseFee: ${limits.baseFeePerGas}`,
    );
  }
}

/** Checks that need only the transaction and the chain's limits. */
export function checkStatic(tx: DecodedTx, limits: AdmissionLimits): void {
  checkSize(tx.raw.length, limits);
  checkChainId(tx, limits);
  if (tx.to === null && tx.data.length > MAX_INITCODE_BYTES) {
    throw new TxRejectedError('max-initcode-size-exceeded', `code size ${tx.data.length}, limit ${MAX_INITCODE_BYTES}`);
  }
  checkGas(tx, limits);
  checkFees(tx, limits);
}

/** The most the sender can be charged: gasLimit × maxFeePerGas + value (geth's "gas * price + value"). */
export function maxCost(tx: Pick<DecodedTx, 'gasLimit' | 'maxFeePerGas' | 'value'>): bigint {
  return tx.gasLimit * tx.maxFeePerGas + tx.value;
}

/**
 * Checks against the sender's committed account. `pendingNonce`, when given, is the next nonce
 * ingress expects from this sender counting transactions it accepted that are not committed yet.
 * Lanes orders transactions as they arrive and keeps no queue of future nonces, so the nonce must
 * then equal it exactly: lower is a second transaction for a nonce already in flight (one of the
 * two would fail), higher is a gap that would fail in its block. Ingress checks 'already known'
 * (same hash) before this, so a client's retry of the same transaction is not reported as too low.
 */
export function checkAgainstAccount(
  tx: DecodedTx,
  account: AccountSnapshot,
  limits: Pick<AdmissionLimits, 'nonceWindow'>,
  pendingNonce?: bigint,
): void {
  const address = hexAddress(tx.sender);
  if (tx.nonce < account.nonce) {
    throw new TxRejectedError('nonce-too-low', `address ${address}, tx: ${tx.nonce} state: ${account.nonce}`);
  }
  if (tx.nonce >= account.nonce + BigInt(limits.nonceWindow)) {
    throw new TxRejectedError(
      'nonce-too-high',
      `address ${address}, tx: ${tx.nonce} state: ${account.nonce} window: ${limits.nonceWindow}`,
    );
  }
  if (pendingNonce !== undefined) {
    // A pending nonce behind the committed one is stale (its transactions were committed).
    const expected = pendingNonce > account.nonce ? pendingNonce : account.nonce;
    if (tx.nonce < expected) {
      throw new TxRejectedError('nonce-too-low', `address ${address}, tx: ${tx.nonce} pending: ${expected}`);
    }
    if (tx.nonce > expected) {
      throw new TxRejectedError('nonce-too-high', `address ${address}, tx: ${tx.nonce} pending: ${expected}`);
    }
  }
  const cost = maxCost(tx);
  if (account.balance < cost) {
    throw new TxRejectedError('insufficient-funds', `address ${address} have ${account.balance} want ${cost}`);
  }
}

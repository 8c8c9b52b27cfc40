// Shared types of the workload generator: options, the transactions it emits with the effect
// each one intends, and the spec the expected-state model starts from.
import type { SignedTx } from './signer.js';

export const WORKLOAD_KINDS = ['transfer', 'erc20', 'amm', 'nft', 'mixed'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface WorkloadOptions {
  workload: WorkloadKind;
  /** Funded sender accounts (≥ 1). Fewer accounts = more transactions per sender = more contention. */
  accounts: number;
  /** Share (0 … 1) of transactions aimed at one hot account (recipient) or pool 0 (amm). */
  hotShare: number;
  chainId: bigint;
  /** Any string or number; the same seed and options give byte-identical genesis and txs. */
  seed: string | number;
  /** Uniswap V2 pools for amm/mixed (default 2); each pairs the base token with its own quote token. */
  pools?: number;
}

/** What a transaction is meant to do, for the expected-state model (ledger.ts). */
export type TxEffect =
  | { kind: 'transfer'; to: Buffer; value: bigint }
  | { kind: 'erc20'; token: Buffer; to: Buffer; amount: bigint }
  | { kind: 'swap'; pool: number; tokenIn: Buffer; tokenOut: Buffer; amountIn: bigint }
  | { kind: 'mint'; collection: Buffer; to: Buffer };

export interface WorkloadTx extends SignedTx {
  /** Position in the generated sequence (0-based, over every next() call). */
  index: number;
  nonce: bigint;
  gasLimit: bigint;
  effect: TxEffect;
}

export interface PoolSpec {
  pair: Buffer;
  token0: Buffer;
  token1: Buffer;
  reserve0: bigint;
  reserve1: bigint;
}

/** Initial values of everything a workload touches, as the genesis sets them. */
export interface WorkloadSpec {
  /** min(maxFeePerGas, baseFee + priority fee) of every workload transaction. */
  gasPriceWei: bigint;
  initialNonce(address: Buffer): bigint;
  initialEth(address: Buffer): bigint;
  initialToken(token: Buffer, holder: Buffer): bigint;
  initialNft(collection: Buffer, holder: Buffer): bigint;
  initialNftSupply(collection: Buffer): bigint;
  pools: PoolSpec[];
}

/** Addresses of what the genesis deploys (absent when the workload does not use it). */
export interface WorkloadContracts {
  token?: Buffer;
  baseToken?: Buffer;
  quoteTokens: Buffer[];
  factory?: Buffer;
  router?: Buffer;
  nft?: Buffer;
  pools: PoolSpec[];
}

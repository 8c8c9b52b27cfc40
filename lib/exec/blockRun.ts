// Runs the transactions of an ExecRequest one after another in one executor and turns each
// outcome into the TxResult the scheduler assembles. Shared by the executor service and the
// scheduler's local fallback, so both produce byte-identical results.
import { RLP } from '@ethereumjs/rlp';
import { TxStatus, type BlockEnv as WireBlockEnv, type ExecRequest, type TxResult } from '../../gen/lanes/v1/bus.js';
import type { BlockEnv, TxExecutor, TxOutcome } from '../evm/index.js';
import { accountKey, bigintToBytes, bytesToBigint, codeKey, decodeAccount, EMPTY_CODE_HASH, keyToBytes, type StateKey } from '../state/keys.js';
import { AccessPatternLearner } from './accessPatterns.js';
import type { CommittedStateCache } from './committedState.js';
import { BlockOverlaySource } from './overlaySource.js';

/** The EVM's view of a wire BlockEnv, with the BLOCKHASH window by number. */
export function toEvmEnv(env: WireBlockEnv, recentHashes: readonly Buffer[]): BlockEnv {
  const blockHashes = new Map<bigint, Uint8Array>();
  const first = env.number - BigInt(recentHashes.length);
  recentHashes.forEach((hash, i) => blockHashes.set(first + BigInt(i), hash));
  return {
    chainId: env.chainId,
    number: env.number,
    timestampSec: env.timestamp,
    coinbase: env.coinbase,
    gasLimit: env.gasLimit,
    baseFeePerGas: bytesToBigint(env.baseFeePerGas),
    prevRandao: env.prevRandao,
    blockHashes,
  };
}

const STATUS: Record<TxOutcome['status'], TxStatus> = {
  success: TxStatus.TX_STATUS_SUCCESS,
  reverted: TxStatus.TX_STATUS_REVERTED,
  invalid: TxStatus.TX_STATUS_INVALID,
};

export function toTxResult(outcome: TxOutcome, txIndex: number, incarnation: number): TxResult {
  return {
    txIndex,
    status: STATUS[outcome.status],
    error: outcome.error ?? '',
    errorCode: outcome.errorCode ?? 0,
    gasUsed: outcome.gasUsed,
    logs: outcome.logs,
    contractAddress: outcome.contractAddress ?? Buffer.alloc(0),
    writes: [...outcome.writes].map(([key, value]) => ({ key: keyToBytes(key), value: value ?? Buffer.alloc(0), absent: value === null })),
    reads: [...outcome.reads].map(([key, v]) => ({ key: keyToBytes(key), txIndex: v.txIndex, incarnation: v.incarnation })),
    returnData: outcome.returnData,
    incarnation,
    txType: outcome.txType,
    to: outcome.to ?? Buffer.alloc(0),
    effectiveGasPrice: bigintToBytes(outcome.effectiveGasPrice),
    coinbaseDelta: bigintToBytes(outcome.coinbaseDelta),
  };
}

/** The `to` address and calldata of a signed tx, read from its RLP (to null = create). */
export function callOf(raw: Uint8Array): { to: Buffer | null; data: Buffer } {
  try {
    const typed = raw.length > 0 && raw[0]! < 0x7f;
    const fields = RLP.decode(typed ? raw.subarray(1) : raw) as Uint8Array[];
    const index = !typed ? 3 : raw[0] === 1 ? 4 : 5;
    const to = fields[index];
    const data = fields[index + 2];
    return {
      to: to instanceof Uint8Array && to.length === 20 ? Buffer.from(to) : null,
      data: data instanceof Uint8Array ? Buffer.from(data) : Buffer.alloc(0),
    };
  } catch {
    return { to: null, data: Buffer.alloc(0) }; // undecodable: the executor reports it as invalid
  }
}

/** The `to` address of a signed tx (null = create). */
export function recipientOf(raw: Uint8Array): Buffer | null {
  return callOf(raw).to;
}

/**
 * Loads what the block will likely read in two round trips: the sender, recipient and coinbase
 * accounts with the keys learned patterns predict, then the code of accounts that have code.
 */
async function prefetchBlock(
  req: ExecRequest, calls: ReadonlyArray<{ to: Buffer | null; data: Buffer }>, source: BlockOverlaySource,
  committed: CommittedStateCache, patterns: AccessPatternLearner | undefined,
): Promise<void> {
  const accounts = new Set<StateKey>();
  const predicted: StateKey[] = [];
  if (req.env !== undefined) accounts.add(accountKey(req.env.coinbase));
  req.txs.forEach((tx, i) => {
    accounts.add(accountKey(tx.sender));
    const { to, data } = calls[i]!;
    if (to !== null) {
      accounts.add(accountKey(to));
      if (patterns !== undefined) for (const k of patterns.predict({ sender: tx.sender, to, data })) predicted.push(k);
    }
  });
  await source.prefetch([...accounts, ...predicted]);
  const codes = new Set<StateKey>();
  for (const key of [...accounts, ...predicted.filter((k) => k.startsWith('01'))]) {
    const value = committed.peek(key, req.baseHeight);
    if (value === undefined || value === null) continue;
    const codeHash = decodeAccount(value).codeHash;
    if (!Buffer.from(codeHash).equals(EMPTY_CODE_HASH)) codes.add(codeKey(codeHash));
  }
  await source.prefetch(codes);
}

export interface BlockRunResult {
  results: TxResult[];
  roundTrips: number;
  /** Wall time spent loading state before the first tx, and running the txs. */
  prefetchMs: number;
  executeMs: number;
}

/**
 * Executes every tx of `req` serially over committed state at req.baseHeight. With `patterns`,
 * the block's likely keys are prefetched from what earlier calls read, and it keeps learning.
 */
export async function runBlockSerially(
  executor: TxExecutor, req: ExecRequest, committed: CommittedStateCache, patterns?: AccessPatternLearner,
): Promise<BlockRunResult> {
  if (req.env === undefined) throw new Error('ExecRequest without env');
  const env = toEvmEnv(req.env, req.recentHashes);
  const source = new BlockOverlaySource(committed, req.baseHeight);
  const calls = req.txs.map((tx) => callOf(tx.raw));
  const started = performance.now();
  await prefetchBlock(req, calls, source, committed, patterns);
  const prefetched = performance.now();
  const results: TxResult[] = [];
  for (let i = 0; i < req.txs.length; i++) {
    const tx = req.txs[i]!;
    const txIndex = req.txIndexes[i] ?? i;
    const outcome = await executor.execute({ raw: tx.raw, hash: tx.hash, sender: tx.sender }, env, source);
    if (outcome.status !== 'invalid') source.applyWrites(txIndex, outcome.writes);
    const call = calls[i]!;
    if (patterns !== undefined && call.to !== null) patterns.learn({ sender: tx.sender, to: call.to, data: call.data }, outcome.reads.keys());
    results.push(toTxResult(outcome, txIndex, 0));
  }
  return { results, roundTrips: source.roundTrips, prefetchMs: prefetched - started, executeMs: performance.now() - prefetched };
}

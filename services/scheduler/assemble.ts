// Turns a block's execution results into the commit the state service applies: included
// transactions with their receipts, rejections with reasons, and the block's final write set
// (the last write of each key in block order, which the engine hands over as one map). Pure, so
// the reference path and the cluster path assemble identically.
import { BlockExecuted, CommitRequest, TxStatus, type BlockEnv, type OrderedBlock, type TxResult } from '../../gen/lanes/v1/bus.js';
import type { Rejection, StateEntry, Tx } from '../../gen/lanes/v1/types.js';
import { buildReceipts, type ReceiptInput } from '../../lib/chain/block.js';
import type { BlockWrites } from '../../lib/exec/blockRun.js';
import { bytesToBigint, keyToBytes } from '../../lib/state/keys.js';
import { encodeMessage } from '../../lib/bus/encode.js';

export class ResultMismatchError extends Error {
  constructor(message: string, readonly height: bigint) {
    super(`block ${height}: ${message}`);
    this.name = 'ResultMismatchError';
  }
}

/** Checks that the executors answered exactly one result per transaction, in block order. */
export function checkResults(block: OrderedBlock, results: TxResult[]): void {
  if (results.length !== block.txs.length) {
    throw new ResultMismatchError(`expected ${block.txs.length} results, got ${results.length}`, block.height);
  }
  results.forEach((r, i) => {
    if (r.txIndex !== i) throw new ResultMismatchError(`result ${i} is for tx ${r.txIndex}`, block.height);
    if (r.status === TxStatus.TX_STATUS_UNSPECIFIED) throw new ResultMismatchError(`result ${i} has no status`, block.height);
  });
}

const EMPTY = Buffer.alloc(0);

/** `writes` is the block's write set (BlockExecution.writes): the last write of each key, each key once. */
export function assembleCommit(
  block: OrderedBlock, env: BlockEnv, results: TxResult[], writes: BlockWrites,
): CommitRequest {
  checkResults(block, results);
  const txs: Tx[] = [];
  const inputs: ReceiptInput[] = [];
  const rejections: Rejection[] = [];
  results.forEach((result, i) => {
    const tx = block.txs[i]!;
    if (result.status === TxStatus.TX_STATUS_INVALID) {
      rejections.push({ txHash: tx.hash, code: result.errorCode, reason: result.error, height: block.height });
      return;
    }
    txs.push(tx);
    inputs.push({
      txHash: tx.hash,
      sender: tx.sender,
      to: result.to.length === 0 ? null : result.to,
      contractAddress: result.contractAddress.length === 0 ? null : result.contractAddress,
      gasUsed: result.gasUsed,
      success: result.status === TxStatus.TX_STATUS_SUCCESS,
      logs: result.logs,
      txType: result.txType,
      effectiveGasPrice: bytesToBigint(result.effectiveGasPrice),
    });
  });
  // Sorted keys (hex sorts as the bytes do): the commit payload does not depend on which tx wrote a key last.
  const sortedWrites: StateEntry[] = [...writes]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key: keyToBytes(key), value: value ?? EMPTY, absent: value === null }));
  return {
    env,
    orderedDigest: block.digest,
    txs,
    receipts: buildReceipts(inputs),
    writes: sortedWrites,
    rejections,
    lastTxStreamSeq: block.lastTxStreamSeq,
  };
}

/**
 * The executors' BlockExecuted of an assembled block: its height and final writes, the same
 * entries the commit carries (converted once).
 */
export function encodeBlockExecuted(commit: CommitRequest): Uint8Array {
  return encodeMessage(BlockExecuted, { height: commit.env?.number ?? 0n, writes: commit.writes });
}

export interface EncodedCommit {
  /** The CommitRequest for the state service. */
  commit: Uint8Array;
  /** The executors' BlockExecuted. */
  executed: Uint8Array;
  /** Included and rejected txs, for the caller's log line and counters. */
  txs: number;
  rejected: number;
}

/**
 * A block's commit and BlockExecuted, assembled and encoded at once. What a caller then keeps
 * while the commit is in flight (through the next block's run, when commits are pipelined) is
 * two payloads, not the block's receipts and logs as objects, which every scavenge of the next
 * block's run would copy again.
 */
export function encodeCommit(block: OrderedBlock, env: BlockEnv, results: TxResult[], writes: BlockWrites): EncodedCommit {
  const commit = assembleCommit(block, env, results, writes);
  return {
    commit: encodeMessage(CommitRequest, commit), executed: encodeBlockExecuted(commit),
    txs: commit.txs.length, rejected: commit.rejections.length,
  };
}

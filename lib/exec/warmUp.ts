// JIT warm-up of a process that runs the EVM (an executor, the scheduler's in-process serial path),
// before it takes work.
//
// V8 compiles the EVM's hot paths (the interpreter loop, the state view, the opcode handlers,
// result packing) over its first few thousand transactions. Measured on these 2-vCPU VMs
// (ERC-20 transfers, one process, µs per tx by block of 250): ≈ 1,000 on the first block, 300–600
// until ≈ 2,500 txs, 170–260 after; mixed traffic settles after ≈ 4,000–5,500. Until then the
// process also keeps its compiler threads busy: over txs 500–2,000, four V8 worker threads used
// ≈ 130 µs of CPU per tx beside the main thread's ≈ 190, ≈ 35 µs once settled.
// A cold executor is therefore two to five times slower than a warm one for its first seconds of
// work, and a parallel block waits for its slowest partition: an executor added to a running
// cluster (scale-out, a restarted pod) would slow every block it takes part in. Warming it on a
// private, throwaway workload before it says hello makes it join at full speed.
//
// The warm-up signs a mixed workload (plain transfers, OpenZeppelin ERC-20 transfers, Uniswap V2
// swaps, ERC-721 mints: lib/workloads) over a few hundred accounts of its own genesis and runs it
// block by block through the same path real work takes (runBlockSerially over a
// CommittedStateCache, results packed and encoded for the bus), alternating the given executors.
// Nothing of it is kept: its state, cache and learned access patterns are its own.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ExecResponse, TxStatus, type BlockEnv, type ExecRequest } from '../../gen/lanes/v1/bus.js';
import { genesisStateEntries } from '../chain/genesis.js';
import type { TxExecutor } from '../evm/index.js';
import { bigintToBytes } from '../state/keys.js';
import { WorkloadGenerator } from '../workloads/index.js';
import { AccessPatternLearner } from './accessPatterns.js';
import { runBlockSerially } from './blockRun.js';
import { blockIndexes } from './requests.js';
import { CommittedStateCache } from './committedState.js';
import { encodeMessage } from '../bus/encode.js';

export interface WarmUpOptions {
  /** Transactions to run in all; 0 = no warm-up. */
  txs: number;
  /** Stop after this long (signing included), whatever `txs` says. */
  maxMs: number;
  /** The chain id the executors check signatures against. */
  chainId: bigint;
  /** Transactions per warm-up block. */
  blockTxs?: number;
}

export interface WarmUpReport {
  /** Transactions executed. */
  txs: number;
  /** Of them, those that succeeded: all of them unless the EVM disagrees with the workload. */
  succeeded: number;
  /** Wall time, signing included. */
  ms: number;
  /** Signing the workload. */
  signMs: number;
  /** µs per tx of the first and of the last warm-up block: how far the JIT came. */
  firstBlockMicrosPerTx: number;
  lastBlockMicrosPerTx: number;
  /** Whether maxMs stopped it before `txs`. */
  timedOut: boolean;
}

export const WARM_UP_ACCOUNTS = 256;
const DEFAULT_BLOCK_TXS = 250;

export async function warmUpExecution(executors: readonly TxExecutor[], options: WarmUpOptions): Promise<WarmUpReport> {
  const started = performance.now();
  const report: WarmUpReport = { txs: 0, succeeded: 0, ms: 0, signMs: 0, firstBlockMicrosPerTx: 0, lastBlockMicrosPerTx: 0, timedOut: false };
  if (options.txs <= 0 || executors.length === 0) return report;
  const blockTxs = Math.max(1, options.blockTxs ?? DEFAULT_BLOCK_TXS);
  const generator = await WorkloadGenerator.create({ workload: 'mixed', accounts: WARM_UP_ACCOUNTS, hotShare: 0, chainId: options.chainId, seed: 'lanes-warm-up' });
  const signed = generator.next(options.txs);
  report.signMs = performance.now() - started;
  const { genesis } = generator;
  const state = genesisStateEntries(genesis);
  const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), WARM_UP_ACCOUNTS * 64);
  cache.reset(0n);
  const patterns = new AccessPatternLearner();
  const txs = signed.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
  for (let b = 0; b * blockTxs < txs.length; b++) {
    if (performance.now() - started > options.maxMs) {
      report.timedOut = true;
      break;
    }
    const block = txs.slice(b * blockTxs, (b + 1) * blockTxs);
    const height = BigInt(b + 1);
    const env: BlockEnv = {
      number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: bigintToBytes(genesis.baseFeePerGas), prevRandao: Buffer.alloc(32, b % 256), chainId: genesis.chainId,
    };
    const req: ExecRequest = {
      env, baseHeight: height - 1n, txs: block, txIndexes: blockIndexes(block.length), recentHashes: [], prefetched: [], requestId: height, partition: false,
    };
    const t = performance.now();
    const run = await runBlockSerially(executors[b % executors.length]!, req, cache, { patterns });
    encodeMessage(ExecResponse, { requestId: height, results: run.results, error: '', stateRoundTrips: run.roundTrips, executorId: 'warm-up', cpuMicros: 0n });
    const microsPerTx = ((performance.now() - t) * 1000) / block.length;
    if (b === 0) report.firstBlockMicrosPerTx = microsPerTx;
    report.lastBlockMicrosPerTx = microsPerTx;
    report.txs += block.length;
    for (const r of run.results) if (r.status === TxStatus.TX_STATUS_SUCCESS) report.succeeded++;
    cache.applyCommitted(height, run.writes);
    // Health checks and the bus's pings go on meanwhile.
    await yieldToLoop();
  }
  report.ms = performance.now() - started;
  return report;
}

/** The report as log fields, rounded. */
export function warmUpLogFields(r: WarmUpReport): Record<string, number | boolean> {
  return {
    txs: r.txs, succeeded: r.succeeded, ms: Math.round(r.ms), signMs: Math.round(r.signMs), timedOut: r.timedOut,
    firstBlockMicrosPerTx: Math.round(r.firstBlockMicrosPerTx), lastBlockMicrosPerTx: Math.round(r.lastBlockMicrosPerTx),
  };
}

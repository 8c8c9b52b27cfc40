// Drives the parallel engine in-process, for property and regression tests: real EVMs (one pair
// per simulated executor), a real engine and real assembly, with the bus replaced by function
// calls that can be delayed or fail ("executor restarts"). Compares against the reference.
import type { ExecRequest, ExecResponse, LookaheadResponse, OrderedBlock } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { HotKeyTracker, ParallelEngine, type ConflictReport, type EngineOptions, type ExecutorPool } from '../../lib/engine/index.js';
import { ReferenceExecutor, TxExecutor, type TxOutcome } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { runBlockSerially, warmAhead } from '../../lib/exec/blockRun.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { assembleCommit } from '../../services/scheduler/assemble.js';
import { bigintToBytes, keyFromBytes, type StateKey } from '../../lib/state/keys.js';
import { StateRootAccumulator } from '../../lib/state/root.js';
import { generateWorkload, type GeneratedWorkload } from '../../lib/workloads/index.js';

export interface SimExecutor {
  plain: TxExecutor;
  deltas: TxExecutor;
}

export async function createSimExecutors(chainId: bigint, count: number): Promise<SimExecutor[]> {
  const out: SimExecutor[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ plain: await TxExecutor.create({ chainId }), deltas: await TxExecutor.create({ chainId, coinbaseDeltas: true }) });
  }
  return out;
}

/** `count` blocks of 120 plain transfers over 300 accounts, no hot account: blocks that run in parallel with few conflicts. */
export async function transferBlocks(chainId: bigint, seed: string, count: number): Promise<{ w: GeneratedWorkload; blocks: Tx[][] }> {
  const w = await generateWorkload({ workload: 'transfer', accounts: 300, hotShare: 0, chainId, seed, txCount: count * 120 });
  const txs: Tx[] = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
  return { w, blocks: Array.from({ length: count }, (_, b) => txs.slice(b * 120, (b + 1) * 120)) };
}

/** Random but reproducible misbehaviour of the simulated executors. */
export interface Chaos {
  /** 0..1: chance a request fails (the executor "restarted"). */
  failRate: number;
  /** Max extra delay per request, ms. */
  maxDelayMs: number;
  random: () => number;
  /** A fixed extra delay per request to an executor slot (a slow host), ms. */
  slotDelayMs?: (slot: number) => number;
  /** Whether every request to an executor slot fails (one that died but is still announced). */
  slotFails?: (slot: number) => boolean;
  /** Whether the scheduler's own state read fails now (the state service timed out), asked once per read. */
  localReadFails?: () => boolean;
  /** Changes an executor's answer before the engine sees it (an answer that does not fit). */
  answer?: (res: ExecResponse, slot: number) => ExecResponse;
}

class SimPool implements ExecutorPool {
  /** Execution requests each executor answered (retries included). */
  readonly requests: number[];

  constructor(
    private readonly executors: SimExecutor[],
    private readonly count: number,
    private readonly committed: ReadonlyMap<StateKey, Buffer>,
    private readonly chaos: Chaos,
  ) {
    this.requests = new Array<number>(count).fill(0);
  }

  size(): number {
    return this.count;
  }

  async run(req: ExecRequest, slot: number): Promise<ExecResponse> {
    const sim = this.executors[slot % this.count]!;
    const delay = Math.floor(this.chaos.random() * this.chaos.maxDelayMs) + (this.chaos.slotDelayMs?.(slot % this.count) ?? 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (this.chaos.random() < this.chaos.failRate) throw new Error('simulated executor restart');
    if (this.chaos.slotFails?.(slot % this.count) === true) throw new Error('simulated dead executor');
    this.requests[slot % this.count]!++;
    // A fresh cache per request: what a restarted executor has.
    const cache = new CommittedStateCache(async (keys) => keys.map((k) => this.committed.get(k) ?? null), 100_000);
    cache.reset(req.baseHeight);
    const run = await runBlockSerially(req.partition ? sim.deltas : sim.plain, req, cache);
    const res: ExecResponse = { requestId: req.requestId, results: run.results, error: '', stateRoundTrips: run.roundTrips, executorId: `sim-${slot}`, cpuMicros: 0n };
    return this.chaos.answer?.(res, slot % this.count) ?? res;
  }

  /** Loads the next block's keys over committed state as it is now (the block before it still runs). */
  async lookahead(req: ExecRequest): Promise<LookaheadResponse> {
    const delay = Math.floor(this.chaos.random() * this.chaos.maxDelayMs);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (this.chaos.random() < this.chaos.failRate) throw new Error('simulated executor restart');
    const cache = new CommittedStateCache(async (keys) => keys.map((k) => this.committed.get(k) ?? null), 100_000);
    cache.reset(req.baseHeight - 1n);
    const { keysLoaded, roundTrips } = await warmAhead(req, cache, undefined);
    return { keysLoaded, stateRoundTrips: roundTrips, error: '' };
  }
}

export interface ChainRunResult {
  roots: Buffer[];
  referenceRoots: Buffer[];
  receipts: Array<Array<{ success: boolean; gasUsed: bigint; logs: number; cumulativeGasUsed: bigint }>>;
  referenceReceipts: Array<Array<{ success: boolean; gasUsed: bigint; logs: number; cumulativeGasUsed: bigint }>>;
  rejected: number[];
  referenceRejected: number[];
  reports: ConflictReport[];
  /** Execution requests each simulated executor answered over the whole chain. */
  requestsBySlot: number[];
}

function receiptsOf(outcomes: TxOutcome[]): Array<{ success: boolean; gasUsed: bigint; logs: number; cumulativeGasUsed: bigint }> {
  let cumulative = 0n;
  return outcomes.filter((o) => o.status !== 'invalid').map((o) => {
    cumulative += o.gasUsed;
    return { success: o.status === 'success', gasUsed: o.gasUsed, logs: o.logs.length, cumulativeGasUsed: cumulative };
  });
}

/**
 * Runs `blocks` through the engine with `executorCount` simulated executors and through the
 * reference executor, from `genesis`, returning both sides' roots and receipts per block.
 */
export async function runChain(options: {
  genesis: Genesis;
  blocks: Tx[][];
  executors: SimExecutor[];
  executorCount: number;
  local: TxExecutor;
  /** The scheduler's own EVM in coinbase-delta mode: with it, the engine runs a share of each parallel block in-process (engine.localPartitionMaxExecutors, here any number unless options.engine says otherwise). */
  localDeltas?: TxExecutor;
  chaos: Chaos;
  engine?: Partial<EngineOptions>;
  /** Hand the engine each block's successor, as the scheduler does when blocks queue. */
  lookahead?: boolean;
  /** Give the scheduler's own execution learned access patterns, as the scheduler service does. */
  localPatterns?: boolean;
}): Promise<ChainRunResult> {
  const { genesis } = options;
  const committed = new Map<StateKey, Buffer>(genesisStateEntries(genesis));
  const accumulator = new StateRootAccumulator();
  for (const [k, v] of committed) accumulator.update(k, null, v);
  const reference = await ReferenceExecutor.create({ chainId: genesis.chainId, genesis: genesisStateEntries(genesis) });
  const engine = new ParallelEngine({
    minParallelTxs: 0, maxConflictShare: 1.01, maxGroupShare: 1.01, maxPartitions: 16, tailsPerExecutor: 2, tailShare: 0.2, queueAhead: 1, attempts: 2, serialInProcess: false, adaptiveMode: false,
    localPartitionMaxExecutors: options.localDeltas !== undefined ? 64 : 0, ...options.engine,
  }, new HotKeyTracker(), { warn: () => {}, error: () => {} });
  const pool = new SimPool(options.executors, options.executorCount, committed, options.chaos);
  const out: ChainRunResult = { roots: [], referenceRoots: [], receipts: [], referenceReceipts: [], rejected: [], referenceRejected: [], reports: [], requestsBySlot: pool.requests };
  const hashes = new Map<bigint, Uint8Array>([[0n, Buffer.alloc(32, 0x11)]]);
  const envAt = (height: bigint) => ({
    number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
    baseFeePerGas: bigintToBytes(genesis.baseFeePerGas), prevRandao: Buffer.alloc(32, Number(height % 256n)), chainId: genesis.chainId,
  });
  // The local cache follows commits, as the scheduler's does (its fetcher reads the state as committed so far).
  const local = {
    executor: options.local,
    ...(options.localDeltas !== undefined ? { partitionExecutor: options.localDeltas } : {}),
    cache: new CommittedStateCache(async (keys) => {
      if (options.chaos.localReadFails?.() === true) throw new Error('state read timed out');
      return keys.map((k) => committed.get(k) ?? null);
    }, 100_000),
    ...(options.localPatterns === true ? { patterns: new AccessPatternLearner() } : {}),
  };
  local.cache.reset(0n);
  for (const [b, txs] of options.blocks.entries()) {
    const height = BigInt(b + 1);
    const env = envAt(height);
    const recentHashes = [...hashes.values()].map((h) => Buffer.from(h));
    const req: ExecRequest = { env, baseHeight: height - 1n, txs, txIndexes: txs.map((_, i) => i), recentHashes, prefetched: [], requestId: height, partition: false };
    const nextTxs = options.blocks[b + 1];
    const next: ExecRequest | undefined = options.lookahead !== true || nextTxs === undefined ? undefined : {
      env: envAt(height + 1n), baseHeight: height, txs: nextTxs, txIndexes: nextTxs.map((_, i) => i), recentHashes: [], prefetched: [], requestId: height + 1n, partition: false,
    };
    const { results, writes, report } = await engine.executeBlock(req, pool, local, next);
    local.cache.applyCommitted(height, writes);
    out.reports.push(report);
    const block: OrderedBlock = { height, parentDigest: Buffer.alloc(32), timestamp: env.timestamp, txRoot: Buffer.alloc(32), txs, digest: env.prevRandao, lastTxStreamSeq: height };
    const commit = assembleCommit(block, env, results, writes);
    for (const w of commit.writes) {
      const key = keyFromBytes(w.key);
      const before = committed.get(key) ?? null;
      const after = w.absent ? null : w.value;
      accumulator.update(key, before, after);
      if (after === null) committed.delete(key);
      else committed.set(key, after);
    }
    out.roots.push(accumulator.root());
    out.receipts.push(commit.receipts.map((r) => ({ success: r.success, gasUsed: r.gasUsed, logs: r.logs.length, cumulativeGasUsed: r.cumulativeGasUsed })));
    out.rejected.push(commit.rejections.length);

    const outcomes = await reference.executeBlock({
      chainId: genesis.chainId, number: height, timestampSec: env.timestamp, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: genesis.baseFeePerGas, prevRandao: env.prevRandao, blockHashes: new Map(hashes),
    }, txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender })));
    out.referenceRoots.push(reference.stateRoot());
    out.referenceReceipts.push(receiptsOf(outcomes));
    out.referenceRejected.push(outcomes.filter((o) => o.status === 'invalid').length);
    hashes.set(height, Buffer.alloc(32, (b + 2) % 256));
  }
  return out;
}

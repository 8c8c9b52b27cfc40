// The parallel execution engine (Block-STM family, distributed): the scheduler plans a block
// into partitions by key affinity (partition.ts), executors run the partitions optimistically
// and in parallel, each over committed state plus its own partition's earlier writes, returning
// read-sets with versions and write-sets; then the scheduler validates every transaction in
// block order against the block's multi-version memory (blockMemory.ts, validate.ts) and
// re-executes, locally and exactly, each one that read a stale version. A re-executed tx sees
// every earlier tx's final writes, so it never needs a second re-execution: the work per block is
// bounded by 2 executions per tx. Coinbase fees are deltas, resolved in block order.
//
// Conflicts found teach the next plans: access patterns learned from read-sets keep txs that
// meet on one holder's balance in one partition (affinity), and what affinity cannot explain
// makes an address or a called contract hot (hotKeys.ts).
//
// Blocks that would not gain run serially, in the scheduler itself: small ones, those whose
// predicted conflicts or forced grouping make them dependent, and, by their recent cost per gas,
// those whose txs are too cheap for the hops around a partition (modeChooser.ts). Any broken
// invariant in the parallel path falls back to serial for that block.
import { TxStatus, type ExecRequest, type ExecResponse, type TxResult } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { txCallFields, type TxCallFields } from '../chain/txFields.js';
import type { TxExecutor } from '../evm/index.js';
import { runBlockSerially, toEvmEnv, toTxResult } from '../exec/blockRun.js';
import type { AccessPatternLearner } from '../exec/accessPatterns.js';
import type { CommittedStateCache } from '../exec/committedState.js';
import { accountKey, bytesToBigint, keyFromBytes, keyToBytes, type StateKey } from '../state/keys.js';
import { BlockMemory, type BaseReader } from './blockMemory.js';
import { longestChain, topKeys, type ConflictReport } from './conflictReport.js';
import { ContractCallCounter, type HotKeyTracker } from './hotKeys.js';
import { BlockAffinity, planPartitions, senderPartitions, type PartitionHints, type PartitionPlan } from './partition.js';
import { ModeChooser } from './modeChooser.js';
import { SerialConflictCounter } from './serialConflicts.js';
import { validateReadSet, type ReadVersionEntry } from './validate.js';

/** Where blocks and partitions run: executors over the bus, or in-process ones in tests. */
export interface ExecutorPool {
  /** Executors available now. */
  size(): number;
  /** Runs `req` on the executor chosen for `slot` (affinity); rejects on failure or timeout. */
  run(req: ExecRequest, slot: number): Promise<ExecResponse>;
}

/** The scheduler's own executor: serial blocks, re-executions and last-resort fallbacks run here. */
export interface LocalExecution {
  executor: TxExecutor;
  cache: CommittedStateCache;
  /** Learned access patterns for prefetching serial blocks run here. */
  patterns?: AccessPatternLearner;
}

export interface EngineOptions {
  /** Blocks with fewer txs run serially. */
  minParallelTxs: number;
  /** Predicted share of conflicting txs above which a block runs serially. */
  maxConflictShare: number;
  /** Share of the block in one must-stay-together group above which it runs serially. */
  maxGroupShare: number;
  maxPartitions: number;
  /** Attempts per partition (or serial block) on executors before running it locally. */
  attempts: number;
  /**
   * Run serial blocks in this process rather than on one executor: the same work without the
   * bus round trip and the encoding of read/write sets, so a block that cannot gain from
   * parallelism is never slower than the serial path.
   */
  serialInProcess: boolean;
  /**
   * Choose between parallel and serial for eligible blocks by their recent cost per gas
   * (modeChooser.ts), so cheap txs on a host where the hops cost more than the EVM run serially.
   * Off: every eligible block runs in parallel (tests that must exercise the parallel path).
   */
  adaptiveMode: boolean;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  minParallelTxs: 32, maxConflictShare: 0.25, maxGroupShare: 0.8, maxPartitions: 16, attempts: 3, serialInProcess: true, adaptiveMode: true,
};

export interface EngineLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BlockExecution {
  results: TxResult[];
  report: ConflictReport;
}

/** The engine broke an invariant; the block is redone serially. */
export class EngineInvariantError extends Error {
  override readonly name = 'EngineInvariantError';
}

function readEntries(r: TxResult): ReadVersionEntry[] {
  return r.reads.map((e) => ({ key: keyFromBytes(e.key), txIndex: e.txIndex, incarnation: e.incarnation }));
}

function writeEntries(r: TxResult): Array<[StateKey, Buffer | null]> {
  return r.writes.map((w) => [keyFromBytes(w.key), w.absent ? null : w.value]);
}

/** The called address of each tx (hex, no 0x; null for a creation or an undecodable tx). */
function calledAddresses(txs: readonly Tx[]): Array<string | null> {
  return txs.map((tx) => txCallFields(tx.raw).to?.toString('hex') ?? null);
}

function gasOf(results: readonly TxResult[]): bigint {
  let gas = 0n;
  for (const r of results) gas += r.gasUsed;
  return gas;
}

/** Estimated bytes a result holds (a storage key is 53 bytes, a value at most 72): the report's memory figure. */
function resultBytes(r: TxResult): number {
  return 64 + r.writes.length * 120 + r.reads.length * 64;
}

/** The block indexes of the txs whose writes a read-set saw (its dependencies). */
function writersOf(reads: Iterable<{ txIndex: number }>): number[] {
  const out: number[] = [];
  for (const e of reads) if (e.txIndex >= 0) out.push(e.txIndex);
  return out;
}

export class ParallelEngine {
  private readonly modes = new ModeChooser();

  constructor(
    private readonly options: EngineOptions,
    private readonly hot: HotKeyTracker,
    private readonly log: EngineLog,
  ) {}

  async executeBlock(req: ExecRequest, pool: ExecutorPool, local: LocalExecution): Promise<BlockExecution> {
    const started = performance.now();
    const n = req.txs.length;
    const parts = Math.max(1, Math.min(pool.size(), this.options.maxPartitions));
    // Cheap reasons first: a block that is serial anyway is not planned (see senderPartitions).
    let serialReason = '';
    if (n < this.options.minParallelTxs) serialReason = 'small block';
    else if (pool.size() < 2) serialReason = 'fewer than 2 executors';
    else if (this.hot.conflictShare() > this.options.maxConflictShare) serialReason = 'predicted conflicts';
    if (serialReason !== '') return this.recordSerial(await this.runSerial(req, pool, local, started, serialReason), false);

    const plan = planPartitions(req.txs, parts, { hotAddresses: this.hot.addresses(), ...this.affinityHint(req, local) });
    if (plan.largestGroup > n * this.options.maxGroupShare || plan.partitions.length < 2) {
      return this.recordSerial(await this.runSerial(req, pool, local, started, 'dependent block'), false);
    }
    if (this.options.adaptiveMode && this.modes.choose() === 'serial') {
      return this.recordSerial(await this.runSerial(req, pool, local, started, 'serial faster lately'), true);
    }
    let parallel: BlockExecution;
    try {
      parallel = await this.runParallel(req, plan, pool, local, started);
    } catch (err) {
      this.log.error({ err, height: req.env?.number.toString() }, 'parallel execution broke an invariant; running the block serially');
      const serial = await this.runSerial(req, pool, local, started, 'engine fallback');
      serial.report.fallbacks++;
      return serial;
    }
    this.modes.record('parallel', parallel.report.execMs, gasOf(parallel.results), true);
    return parallel;
  }

  private recordSerial(run: BlockExecution, chosen: boolean): BlockExecution {
    if (this.options.serialInProcess) this.modes.record('serial', run.report.execMs, gasOf(run.results), chosen);
    return run;
  }

  private async runSerial(
    req: ExecRequest, pool: ExecutorPool, local: LocalExecution, started: number, reason: string,
  ): Promise<BlockExecution> {
    // Learn what a parallel run would have met: reads of another partition's earlier writes, with
    // partitions by sender only. Not the plan's: a plan that grouped the block (hot addresses)
    // hides the conflicts that made it group, and they would stop being learned.
    const partOf = senderPartitions(req.txs, Math.max(2, Math.min(pool.size(), this.options.maxPartitions)));
    const affinity = new BlockAffinity(req.txs, this.affinityHint(req, local).affinity);
    const counter = new SerialConflictCounter(partOf, req.env === undefined ? '' : accountKey(req.env.coinbase), (i, j) => affinity.share(i, j));
    const contracts = new ContractCallCounter();

    let results: TxResult[] | null = null;
    let retries = 0;
    let roundTrips = 0;
    const attempts = this.options.serialInProcess ? 0 : this.options.attempts;
    for (let attempt = 0; attempt < attempts && pool.size() > 0 && results === null; attempt++) {
      try {
        const res = await pool.run({ ...req, partition: false }, attempt);
        if (res.error !== '') throw new Error(res.error);
        if (res.results.length !== req.txs.length) throw new Error(`${res.results.length} results for ${req.txs.length} txs`);
        results = res.results;
        roundTrips += res.stateRoundTrips;
      } catch (err) {
        retries++;
        this.log.warn({ err: (err as Error).message, height: req.env?.number.toString(), attempt }, 'serial block run failed on an executor');
      }
    }
    let fallbacks = 0;
    if (results === null) {
      if (!this.options.serialInProcess) fallbacks = 1;
      await this.alignLocal(local, req.baseHeight);
      const run = await runBlockSerially(local.executor, req, local.cache, {
        ...(local.patterns !== undefined ? { patterns: local.patterns } : {}),
        wireReads: false,
        onReads: (i, reads, to) => {
          counter.beginTx(i);
          reads.forEach((v, key) => {
            if (v.txIndex >= 0) counter.read(key, v.txIndex);
          });
          contracts.add(to === null ? null : to.toString('hex'), counter.endTx());
        },
      });
      results = run.results;
      roundTrips += run.roundTrips;
    } else {
      const targets = calledAddresses(req.txs);
      for (let i = 0; i < results.length; i++) {
        counter.beginTx(i);
        for (const e of results[i]!.reads) if (e.txIndex >= 0) counter.read(keyFromBytes(e.key), e.txIndex);
        contracts.add(targets[i]!, counter.endTx());
      }
    }
    const n = results.length;
    this.hot.observe({ height: req.env?.number ?? 0n, txs: n, conflictingTxs: counter.conflictingTxs, conflicts: counter.unexplained, contracts: contracts.contracts });
    const chain = longestChain(counter.deps);
    return {
      results,
      report: {
        height: req.env?.number ?? 0n, txs: n, mode: 'serial', serialReason: reason, partitions: 1,
        executions: n, reexecutions: 0, topKeys: topKeys(counter.conflicts), longestChain: chain,
        idealSpeedup: chain === 0 ? 1 : n / chain, partitionRetries: retries, fallbacks,
        stateRoundTrips: roundTrips, memoryBytes: results.reduce((s, r) => s + resultBytes(r), 0),
        execMs: performance.now() - started, executorsMs: 0, validateMs: 0, reexecuteMs: 0,
      },
    };
  }

  private async runParallel(
    req: ExecRequest, plan: PartitionPlan, pool: ExecutorPool, local: LocalExecution, started: number,
  ): Promise<BlockExecution> {
    const { partitions } = plan;
    const n = req.txs.length;
    const env = req.env;
    if (env === undefined) throw new EngineInvariantError('ExecRequest without env');
    const optimistic: (TxResult | undefined)[] = new Array(n);
    const reads: Array<ReadVersionEntry[] | undefined> = new Array(n);
    const writes: Array<Array<[StateKey, Buffer | null]> | undefined> = new Array(n);
    let retries = 0;
    let fallbacks = 0;
    let roundTrips = 0;
    await Promise.all(partitions.map(async (indexes, slot) => {
      const sub: ExecRequest = {
        ...req, txs: indexes.map((i) => req.txs[i]!), txIndexes: indexes, partition: true, requestId: req.requestId * 64n + BigInt(slot),
      };
      for (let attempt = 0; attempt < this.options.attempts; attempt++) {
        try {
          const res = await pool.run(sub, slot + attempt);
          if (res.error !== '') throw new Error(res.error);
          if (res.results.length !== indexes.length) throw new Error(`${res.results.length} results for ${indexes.length} txs`);
          res.results.forEach((r, k) => {
            if (r.txIndex !== indexes[k]) throw new EngineInvariantError(`partition result ${k} is for tx ${r.txIndex}, expected ${indexes[k]}`);
          });
          // Decoded as each partition arrives: while the others still run, this costs no wall time.
          for (const r of res.results) {
            optimistic[r.txIndex] = r;
            reads[r.txIndex] = readEntries(r);
            writes[r.txIndex] = writeEntries(r);
          }
          roundTrips += res.stateRoundTrips;
          return;
        } catch (err) {
          if (err instanceof EngineInvariantError) throw err;
          retries++;
          this.log.warn({ err: (err as Error).message, height: env.number.toString(), slot, attempt }, 'partition failed; re-issuing');
        }
      }
      // Out of attempts: leave the partition's results empty; validation re-executes them locally.
      fallbacks++;
    }));
    const executorsDone = performance.now();
    let reexecuteMs = 0;

    await this.alignLocal(local, req.baseHeight);
    let preloaded = false;
    const base: BaseReader = (key) => {
      const cached = local.cache.peek(key, req.baseHeight);
      if (cached !== undefined) return cached;
      return local.cache.load([key], req.baseHeight).then((v) => v[0] ?? null);
    };
    const memory = new BlockMemory(base);
    const coinbase = accountKey(env.coinbase);
    const evmEnv = toEvmEnv(env, req.recentHashes);
    const targets = plan.called;
    const contracts = new ContractCallCounter();
    const affinity = new BlockAffinity(req.txs, this.affinityHint(req, local).affinity);
    const final: TxResult[] = [];
    const conflicts = new Map<StateKey, number>();
    const unexplained = new Map<StateKey, number>();
    const deps: number[][] = [];
    let reexecutions = 0;
    let memoryBytes = 0;
    for (let i = 0; i < n; i++) {
      const r = optimistic[i];
      const txReads = reads[i] ?? null;
      const check = txReads === null ? null : validateReadSet(txReads, memory);
      if (r !== undefined && txReads !== null && check !== null && check.valid) {
        if (r.status === TxStatus.TX_STATUS_UNSPECIFIED) throw new EngineInvariantError(`tx ${i} has no status`);
        memory.commitWrites(i, r.incarnation, writes[i]!);
        if (r.coinbaseDelta.length > 0) memory.creditDelta(coinbase, i, r.incarnation, bytesToBigint(r.coinbaseDelta));
        deps.push(writersOf(txReads));
        memoryBytes += resultBytes(r);
        this.learnPattern(local, req.txs[i]!, plan.fields[i]!, txReads);
        contracts.add(targets[i]!, false);
        final.push(r);
        continue;
      }
      let escalate = false;
      if (check !== null && !check.valid) {
        conflicts.set(check.conflictKey, (conflicts.get(check.conflictKey) ?? 0) + 1);
        // Learned only now (a first block), affinity keeps such a pair together from the next
        // plan on; only what it cannot explain makes an address or a called contract hot.
        escalate = check.expected < 0 || !affinity.share(i, check.expected);
        if (escalate) unexplained.set(check.conflictKey, (unexplained.get(check.conflictKey) ?? 0) + 1);
      }
      contracts.add(targets[i]!, escalate);
      if (!preloaded) {
        // The first re-execution: what this and later re-executions read of committed state, in one round trip.
        preloaded = true;
        await this.preloadBaseReads(reads, i, local, req.baseHeight);
      }
      reexecutions++;
      const tx = req.txs[i]!;
      const reexecStarted = performance.now();
      const outcome = await local.executor.execute(tx, evmEnv, memory);
      reexecuteMs += performance.now() - reexecStarted;
      const incarnation = (r?.incarnation ?? 0) + 1;
      if (outcome.status !== 'invalid') memory.commitWrites(i, incarnation, outcome.writes);
      const result = toTxResult(outcome, i, incarnation);
      deps.push(writersOf(outcome.reads.values()));
      memoryBytes += resultBytes(result);
      final.push(result);
    }
    // The coinbase's final value, carried by the result of the tx that credited it last.
    for (const credit of await memory.settle()) final[credit.txIndex]!.writes.push({ key: keyToBytes(credit.key), value: credit.value, absent: false });
    this.hot.observe({ height: env.number, txs: n, conflictingTxs: reexecutions, conflicts: unexplained, contracts: contracts.contracts });
    const chain = longestChain(deps);
    const finished = performance.now();
    return {
      results: final,
      report: {
        height: env.number, txs: n, mode: 'parallel', serialReason: '', partitions: partitions.length,
        executions: n + reexecutions, reexecutions, topKeys: topKeys(conflicts), longestChain: chain,
        idealSpeedup: chain === 0 ? 1 : n / chain, partitionRetries: retries, fallbacks, stateRoundTrips: roundTrips,
        memoryBytes, execMs: finished - started, executorsMs: executorsDone - started,
        validateMs: finished - executorsDone - reexecuteMs, reexecuteMs,
      },
    };
  }

  /** The partitioner's affinity hint: learned mapping entries of each call (none without patterns). */
  private affinityHint(req: ExecRequest, local: LocalExecution): Pick<PartitionHints, 'affinity'> {
    const patterns = local.patterns;
    if (patterns === undefined) return {};
    return {
      affinity: (i: number, to: Buffer, data: Buffer) => patterns.affinityKeys({ sender: req.txs[i]!.sender, to, data }),
    };
  }

  /**
   * Loads, in one round trip, the committed values that optimistic results read and the local
   * cache lacks: re-executions and fee credits read them, and one round trip per key would put
   * the state service's latency on the block's serial tail.
   */
  private async preloadBaseReads(reads: ReadonlyArray<ReadVersionEntry[] | undefined>, from: number, local: LocalExecution, baseHeight: bigint): Promise<void> {
    const missing = new Set<StateKey>();
    for (let i = from; i < reads.length; i++) {
      const txReads = reads[i];
      if (txReads === undefined) continue;
      for (const e of txReads) if (e.txIndex < 0 && local.cache.peek(e.key, baseHeight) === undefined) missing.add(e.key);
    }
    if (missing.size > 0) await local.cache.load([...missing], baseHeight);
  }

  /** Teaches the scheduler's access patterns from a validated optimistic result (first calls per selector only). */
  private learnPattern(local: LocalExecution, tx: Tx, fields: TxCallFields, reads: readonly ReadVersionEntry[]): void {
    const patterns = local.patterns;
    if (patterns === undefined || fields.to === null) return;
    const call = { sender: tx.sender, to: fields.to, data: fields.data };
    if (patterns.wants(call)) patterns.learn(call, reads.map((e) => e.key));
  }

  /** The caller keeps local.cache at the committed height (applyCommitted after each commit). */
  private async alignLocal(local: LocalExecution, baseHeight: bigint): Promise<void> {
    if (local.cache.height !== baseHeight) local.cache.reset(baseHeight);
  }
}

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
import { TxStatus, type ExecRequest, type ExecResponse, type LookaheadResponse, type TxResult } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { sameBytes } from '../bytes.js';
import { blockCallFields, type TxCallFields } from '../chain/txFields.js';
import type { TxExecutor } from '../evm/index.js';
import { blockWritesOf, runBlockSerially, toEvmEnv, toTxResult, warmAhead, type BlockWrites } from '../exec/blockRun.js';
import { pick, withTxs } from '../exec/requests.js';
import type { AccessPatternLearner } from '../exec/accessPatterns.js';
import type { CommittedStateCache } from '../exec/committedState.js';
import { PackedSetError, unpackReads, unpackWrites } from '../exec/packedSets.js';
import { accountKey, bytesToBigint, type StateKey } from '../state/keys.js';
import { BlockMemory, type BaseReader } from './blockMemory.js';
import { longestChain, topKeys, type ConflictReport } from './conflictReport.js';
import { ContractCallCounter, type HotKeyTracker } from './hotKeys.js';
import { BlockAffinity, planPartitions, senderPartitions, type PartitionHints, type PartitionPlan, type PartitionShape } from './partition.js';
import { ModeChooser } from './modeChooser.js';
import { SerialConflictCounter } from './serialConflicts.js';
import { validateReadSet, type ReadVersionEntry } from './validate.js';

/** Where blocks and partitions run: executors over the bus, or in-process ones in tests. */
export interface ExecutorPool {
  /** Executors available now. */
  size(): number;
  /** Runs `req` on the executor chosen for `slot` (affinity); rejects on failure or timeout. */
  run(req: ExecRequest, slot: number): Promise<ExecResponse>;
  /**
   * Has the executor chosen for `slot` load what `req` (a partition of the next block) will
   * likely read into its cache; rejects on failure or timeout. Nothing is executed.
   */
  lookahead(req: ExecRequest, slot: number): Promise<LookaheadResponse>;
}

/** The scheduler's own executor: serial blocks, re-executions and last-resort fallbacks run here. */
export interface LocalExecution {
  executor: TxExecutor;
  /**
   * The same EVM in coinbase-delta mode, for the partitions of parallel blocks the scheduler runs
   * itself (EngineOptions.localPartitionMaxExecutors); without it the scheduler runs none.
   */
  partitionExecutor?: TxExecutor;
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
  /** Partitions per block at most, tails included. */
  maxPartitions: number;
  /**
   * Tail partitions per executor (see PartitionShape): small partitions handed to whichever
   * executor is free, so one slowed by its host does not hold the block. 0 = one partition per
   * executor, assigned up front.
   */
  tailsPerExecutor: number;
  /** Share of the block the tails take together. */
  tailShare: number;
  /**
   * Tails queued at an executor behind the partition it runs (0 = one request at a time). An
   * executor's answer takes a hop, and the scheduler's next yield, to be met: 3–25 ms per answer
   * on this host (10–25 ms for a 200-tx ERC-20 head), during which an executor given one request
   * at a time sits idle. A queued tail
   * starts as the answer leaves. The last tail is never queued ahead: it goes to the slot that is
   * free first, and the scheduler's own slot never queues.
   */
  queueAhead: number;
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
  /**
   * While at most this many executors are alive, the scheduler takes a share of each parallel
   * block itself, as one more executor slot (a head and tails, like the others), when
   * LocalExecution.partitionExecutor is given: its partitions cross no bus and are not encoded.
   * So one executor already makes a block parallel. With more executors the scheduler's core is
   * better left to validation and planning (on 2 cores, 2 executors and a local slot made three
   * EVMs share two cores: 0.72–1.02× the baseline against 1.04–1.07× without it). 0 = never.
   */
  localPartitionMaxExecutors: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  minParallelTxs: 32, maxConflictShare: 0.25, maxGroupShare: 0.8, maxPartitions: 16, tailsPerExecutor: 2, tailShare: 0.2, queueAhead: 1,
  attempts: 3, serialInProcess: true, adaptiveMode: true, localPartitionMaxExecutors: 1,
};

/** A tail partition smaller than this costs more in its round trip than it can even out. */
const MIN_TAIL_TXS = 8;
/** Executors a lookahead loads each tail partition on: any of them may take it. */
const TAIL_LOOKAHEAD_SLOTS = 2;
/**
 * The scheduler's own partition gives the event loop a turn at least this often, so an executor's
 * answer is met (and its next tail sent) within a few ms rather than after the whole partition.
 */
const LOCAL_PARTITION_YIELD_MS = 4;

export interface EngineLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BlockExecution {
  /** One per tx in block order. Read-sets and write-sets may be left out: the block's writes are `writes`. */
  results: TxResult[];
  /** The block's write set: the last write of each key in block order. */
  writes: BlockWrites;
  report: ConflictReport;
}

const NO_LOOKAHEAD = { lookaheadKeys: 0, lookaheadRoundTrips: 0, lookaheadFailures: 0 } as const;

/** The serial reason of a block the mode chooser kept off the executors because parallel had been slower. */
export const CHOSEN_SERIAL_REASON = 'serial faster lately';

type Decision = { plan: PartitionPlan; planMs: number; serialReason: ''; chosen: true } | { plan: null; serialReason: string; chosen: boolean };

interface LookaheadTotals {
  keysLoaded: number;
  roundTrips: number;
  /** Lookahead requests that failed or timed out. */
  failures: number;
}

/** The engine broke an invariant; the block is redone serially. */
export class EngineInvariantError extends Error {
  override readonly name = 'EngineInvariantError';
}

/** A packed set that does not decode is an answer that does not fit: the block runs serially. */
function unpacked<T>(r: TxResult, unpack: () => T): T {
  try {
    return unpack();
  } catch (err) {
    if (err instanceof PackedSetError) throw new EngineInvariantError(`result for tx ${r.txIndex}: ${err.message}`);
    throw err;
  }
}

function readEntries(r: TxResult): ReadVersionEntry[] {
  // Every tx that ran read at least its sender's account. An empty read-set is an answer that does
  // not fit: an executor of an older version, say, which sent its sets in fields 8 and 9.
  if (r.status !== TxStatus.TX_STATUS_INVALID && r.readsPacked.length === 0) throw new EngineInvariantError(`result for tx ${r.txIndex} has no read-set`);
  return unpacked(r, () => unpackReads(r.readsPacked));
}

function writeEntries(r: TxResult): Array<[StateKey, Buffer | null]> {
  return unpacked(r, () => unpackWrites(r.writesPacked));
}

/** The last contract calledContract spelled (a copy of its address, and the hex). */
let lastCalled: { to: Buffer; hex: string } | null = null;

/**
 * The contract a tx calls (hex, no 0x), for hot-contract learning: null for a creation, an
 * undecodable tx, or a plain payment (no calldata), whose conflicts are on account keys that
 * hot-key learning sees anyway.
 */
function calledContract(fields: TxCallFields): string | null {
  if (fields.to === null || fields.data.length === 0) return null;
  // A block's calls mostly go to one contract: its name is spelled once, not per tx.
  if (lastCalled !== null && sameBytes(lastCalled.to, fields.to)) return lastCalled.hex;
  const hex = fields.to.toString('hex');
  lastCalled = { to: Buffer.from(fields.to), hex };
  return hex;
}

/** A block's gas, summed as a number (a block's gas is far below 2^53): a bigint sum allocates per tx. */
function gasOf(results: readonly TxResult[]): bigint {
  let gas = 0;
  for (const r of results) gas += Number(r.gasUsed);
  return BigInt(gas);
}

/** Estimated bytes per result and per read or write entry (a storage key is 53 bytes, a value at most 72): the report's memory figure. */
const RESULT_BYTES = 64;
const ENTRY_BYTES = 120;

/** The block indexes of the txs whose writes a read-set saw (its dependencies). */
function writersOf(reads: Iterable<{ txIndex: number }>): number[] {
  const out: number[] = [];
  for (const e of reads) if (e.txIndex >= 0) out.push(e.txIndex);
  return out;
}

export class ParallelEngine {
  private readonly modes = new ModeChooser();
  /** The last plan made and what it was made from (planFor). */
  private lastPlan: { txs: readonly Tx[]; parts: number; hot: string; generation: number; plan: PartitionPlan } | null = null;

  constructor(
    private readonly options: EngineOptions,
    private readonly hot: HotKeyTracker,
    private readonly log: EngineLog,
  ) {}

  /**
   * Executes `req`. With `next`, the block after it when it is already known, it also loads what
   * `next` will likely read while `req` runs (lookahead): into the executors' caches, partition
   * by partition, when `next` looks parallel, or into the local cache when it looks serial. The
   * lookahead is awaited before this returns, so its cost is part of this block's time, and
   * `next` then starts with its state at hand instead of a round trip to the state service.
   */
  async executeBlock(req: ExecRequest, pool: ExecutorPool, local: LocalExecution, next?: ExecRequest): Promise<BlockExecution> {
    const run = this.executeNow(req, pool, local);
    if (next === undefined || next.txs.length === 0) return run;
    const [execution, ahead] = await Promise.all([run, this.lookahead(next, pool, local)]);
    execution.report.lookaheadKeys = ahead.keysLoaded;
    execution.report.lookaheadRoundTrips = ahead.roundTrips;
    execution.report.lookaheadFailures = ahead.failures;
    return execution;
  }

  private async executeNow(req: ExecRequest, pool: ExecutorPool, local: LocalExecution): Promise<BlockExecution> {
    const started = performance.now();
    const decision = this.decide(req, pool, local, false);
    if (decision.plan === null) return this.recordSerial(await this.runSerial(req, pool, local, started, decision.serialReason), decision.chosen);
    let parallel: BlockExecution;
    try {
      parallel = await this.runParallel(req, decision.plan, pool, local, started);
      parallel.report.planMs = decision.planMs;
    } catch (err) {
      this.log.error({ err, height: req.env?.number.toString() }, 'parallel execution broke an invariant; running the block serially');
      const serial = await this.runSerial(req, pool, local, started, 'engine fallback');
      serial.report.fallbacks++;
      return serial;
    }
    this.modes.record('parallel', parallel.report.execMs, gasOf(parallel.results), true);
    return parallel;
  }

  /**
   * Parallel (with its plan) or serial (with the reason, and whether the mode chooser made it
   * so). Cheap reasons first: a block that is serial anyway is not planned (see senderPartitions).
   * The mode chooser is asked before planning: planning 500 plain transfers took 1.2–2.1 ms, 3–6 %
   * of the serial block it was made for when the chooser then said serial.
   * A block the chooser sends to serial is therefore recorded as its choice even when planning
   * would have found it dependent; that moves only when its next probe comes.
   * `guess`: for a lookahead, which asks what the chooser will say one block later.
   */
  private decide(req: ExecRequest, pool: ExecutorPool, local: LocalExecution, guess: boolean): Decision {
    const n = req.txs.length;
    const serial = (serialReason: string, chosen: boolean): Decision => ({ plan: null, serialReason, chosen });
    if (n < this.options.minParallelTxs) return serial('small block', false);
    const slots = this.slots(pool, local);
    if (slots < 2) return serial(this.runsLocally(pool, local) ? 'no executor' : 'fewer than 2 executors', false);
    if (this.hot.conflictShare() > this.options.maxConflictShare) return serial('predicted conflicts', false);
    // A lookahead's block comes after the one running now: ask what the chooser will say then.
    if (this.options.adaptiveMode && (guess ? this.modes.chooseNext() : this.modes.choose()) === 'serial') return serial(CHOSEN_SERIAL_REASON, true);
    const planStarted = performance.now();
    const { plan, reused } = this.planFor(req, Math.min(slots, this.options.maxPartitions), local);
    const planMs = reused ? 0 : performance.now() - planStarted;
    if (plan.largestGroup > n * this.options.maxGroupShare || plan.heads < 2) return serial('dependent block', false);
    return { plan, planMs, serialReason: '', chosen: true };
  }

  /**
   * The block's plan, reused when the lookahead already made it and nothing it depends on has
   * changed since (the same txs, executors, hot addresses and learned patterns): planning 500
   * calls derives their mapping keys, a millisecond or two on the block's path otherwise.
   */
  private planFor(req: ExecRequest, parts: number, local: LocalExecution): { plan: PartitionPlan; reused: boolean } {
    const hotAddresses = this.hot.addresses();
    const hot = [...hotAddresses].sort().join(',');
    const generation = local.patterns?.generation ?? -1;
    const last = this.lastPlan;
    if (last !== null && last.txs === req.txs && last.parts === parts && last.hot === hot && last.generation === generation) return { plan: last.plan, reused: true };
    const plan = planPartitions(req.txs, parts, { hotAddresses, ...this.affinityHint(req, local) }, this.shapeFor(req.txs.length, parts));
    this.lastPlan = { txs: req.txs, parts, hot, generation, plan };
    return { plan, reused: false };
  }

  /** Whether the scheduler runs partitions of parallel blocks itself, with the executors alive now. */
  private runsLocally(pool: ExecutorPool, local: LocalExecution): boolean {
    return local.partitionExecutor !== undefined && pool.size() <= this.options.localPartitionMaxExecutors;
  }

  /** Executor slots a parallel block can use: the executors, and the scheduler itself when it runs partitions. */
  private slots(pool: ExecutorPool, local: LocalExecution): number {
    return pool.size() + (this.runsLocally(pool, local) ? 1 : 0);
  }

  /** The slot the scheduler runs itself (the plan's last head), or -1. */
  private localSlot(plan: PartitionPlan, pool: ExecutorPool, local: LocalExecution): number {
    return this.runsLocally(pool, local) ? plan.heads - 1 : -1;
  }

  /**
   * The tails of an n-tx block over `heads` executors: as many as options allow, none too small on
   * average (they shrink toward the block's end, see planPartitions: the last of 4 holds 2/5 of
   * the average).
   */
  private shapeFor(n: number, heads: number): PartitionShape {
    const { tailsPerExecutor, tailShare, maxPartitions } = this.options;
    const tails = Math.max(0, Math.min(tailsPerExecutor * heads, maxPartitions - heads, Math.floor((n * tailShare) / MIN_TAIL_TXS)));
    return tails === 0 ? { tails: 0, tailShare: 0 } : { tails, tailShare };
  }

  /**
   * Loads what `next` will likely read, where it will likely run. Never fails: a lookahead that
   * does not arrive costs `next` the round trip it would have made anyway, and is counted.
   */
  private async lookahead(next: ExecRequest, pool: ExecutorPool, local: LocalExecution): Promise<LookaheadTotals> {
    const totals: LookaheadTotals = { keysLoaded: 0, roundTrips: 0, failures: 0 };
    const add = (r: { keysLoaded: number; roundTrips: number }): void => {
      totals.keysLoaded += r.keysLoaded;
      totals.roundTrips += r.roundTrips;
    };
    try {
      const { plan } = this.decide(next, pool, local, true);
      if (plan === null) {
        add(await warmAhead(next, local.cache, local.patterns));
        return totals;
      }
      // One request per executor: its head, and the tails it may take. A tail goes to whichever
      // executor is free first, so it is loaded on TAIL_LOOKAHEAD_SLOTS of them.
      const bySlot = plan.partitions.slice(0, plan.heads).map((head) => [...head]);
      for (let p = plan.heads; p < plan.partitions.length; p++) {
        for (let k = 0; k < Math.min(TAIL_LOOKAHEAD_SLOTS, plan.heads); k++) bySlot[(p - plan.heads + k) % plan.heads]!.push(...plan.partitions[p]!);
      }
      const localSlot = this.localSlot(plan, pool, local);
      await Promise.all(bySlot.map(async (indexes, slot) => {
        try {
          const sub = withTxs(next, pick(next.txs, indexes), indexes, true, next.requestId);
          if (slot === localSlot) {
            add(await warmAhead(sub, local.cache, local.patterns));
            return;
          }
          const res = await pool.lookahead(sub, slot);
          if (res.error !== '') throw new Error(res.error);
          add({ keysLoaded: res.keysLoaded, roundTrips: res.stateRoundTrips });
        } catch {
          totals.failures++;
        }
      }));
    } catch {
      totals.failures++;
    }
    return totals;
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
    const partOf = senderPartitions(req.txs, Math.max(2, Math.min(this.slots(pool, local), this.options.maxPartitions)));
    const affinity = new BlockAffinity(req.txs, this.affinityHint(req, local).affinity);
    const counter = new SerialConflictCounter(partOf, req.env === undefined ? '' : accountKey(req.env.coinbase), (i, j) => affinity.share(i, j));
    const contracts = new ContractCallCounter();

    let results: TxResult[] | null = null;
    let writes: BlockWrites | null = null;
    let retries = 0;
    let roundTrips = 0;
    const attempts = this.options.serialInProcess ? 0 : this.options.attempts;
    for (let attempt = 0; attempt < attempts && pool.size() > 0 && results === null; attempt++) {
      try {
        const res = await pool.run(withTxs(req, req.txs, req.txIndexes, false, req.requestId), attempt);
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
      this.alignLocal(local, req.baseHeight);
      const run = await runBlockSerially(local.executor, req, local.cache, {
        ...(local.patterns !== undefined ? { patterns: local.patterns } : {}),
        wire: false,
        onOutcome: (i, outcome, call) => {
          counter.beginTx(i);
          counter.readAll(outcome.reads);
          contracts.add(calledContract(call), counter.endTx());
        },
      });
      results = run.results;
      writes = run.writes;
      roundTrips += run.roundTrips;
    } else {
      const calls = blockCallFields(req.txs);
      for (let i = 0; i < results.length; i++) {
        counter.beginTx(i);
        for (const e of readEntries(results[i]!)) if (e.txIndex >= 0) counter.read(e.key, e.txIndex);
        contracts.add(calledContract(calls[i]!), counter.endTx());
      }
      writes = blockWritesOf(results);
    }
    const n = results.length;
    this.hot.observe({ height: req.env?.number ?? 0n, txs: n, conflictingTxs: counter.conflictingTxs, conflicts: counter.unexplained, contracts: contracts.contracts });
    const chain = counter.longestChain;
    return {
      results,
      writes,
      report: {
        height: req.env?.number ?? 0n, txs: n, mode: 'serial', serialReason: reason, partitions: 1,
        executions: n, reexecutions: 0, topKeys: topKeys(counter.conflicts), longestChain: chain,
        idealSpeedup: chain === 0 ? 1 : n / chain, partitionRetries: retries, fallbacks,
        stateRoundTrips: roundTrips, memoryBytes: n * RESULT_BYTES + writes.length * ENTRY_BYTES,
        execMs: performance.now() - started, planMs: 0, executorsMs: 0, validateMs: 0, reexecuteMs: 0, ...NO_LOOKAHEAD,
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
    const localSlot = this.localSlot(plan, pool, local);
    // The scheduler's own partitions and the validation below read the local cache at the base
    // height. Synchronous: the partitions' requests leave before this call first yields, ahead of
    // the next block's lookahead planning (executeBlock).
    this.alignLocal(local, req.baseHeight);
    /** Runs partition p from `slot` on; `onAnswer` is called once, when it has an answer (before decoding it) or gave up. */
    const runPartition = async (p: number, slot: number, onAnswer: () => void): Promise<void> => {
      let told = false;
      const answered = (): void => {
        if (!told) onAnswer();
        told = true;
      };
      const indexes = partitions[p]!;
      const sub = withTxs(req, pick(req.txs, indexes), indexes, true, req.requestId * 64n + BigInt(p));
      let firstAttempt = 0;
      if (slot === localSlot) {
        // In this process: results and sets as the EVM made them, nothing packed or decoded.
        try {
          roundTrips += await this.runLocalPartition(sub, local, optimistic, reads, writes);
          answered();
          return;
        } catch (err) {
          // A failed state read, say: the executors may still run it.
          retries++;
          firstAttempt = 1;
          this.log.warn({ err: (err as Error).message, height: env.number.toString(), partition: p, slot }, 'local partition failed; issuing it to an executor');
        }
      }
      for (let attempt = firstAttempt; attempt < this.options.attempts; attempt++) {
        try {
          const res = await pool.run(sub, slot + attempt);
          if (res.error !== '') throw new Error(res.error);
          if (res.results.length !== indexes.length) throw new Error(`${res.results.length} results for ${indexes.length} txs`);
          res.results.forEach((r, k) => {
            if (r.txIndex !== indexes[k]) throw new EngineInvariantError(`partition result ${k} is for tx ${r.txIndex}, expected ${indexes[k]}`);
          });
          answered();
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
          this.log.warn({ err: (err as Error).message, height: env.number.toString(), partition: p, slot, attempt }, 'partition failed; re-issuing');
        }
      }
      // Out of attempts: leave the partition's results empty; validation re-executes them locally.
      fallbacks++;
      answered();
    };
    // Each executor slot runs its head, then takes the next tail not yet taken, until none is
    // left, so a slow executor takes fewer tails. An executor slot also holds up to `queueAhead`
    // tails queued behind the partition it runs, while more than one tail is left: it starts the
    // next as its answer leaves, rather than a hop and a yield of the scheduler later. The next
    // tail leaves as soon as an answer arrives, before that answer is decoded, so the executor does
    // not wait for the decoding.
    let nextTail = plan.heads;
    await Promise.all(Array.from({ length: plan.heads }, async (_, slot) => {
      const started: Array<Promise<void>> = [];
      const ahead = slot === localSlot ? 0 : this.options.queueAhead;
      let inFlight = 0;
      const queueAhead = (): void => {
        while (inFlight <= ahead && partitions.length - nextTail > (inFlight === 0 ? 0 : 1)) start(nextTail++);
      };
      const start = (p: number): void => {
        inFlight++;
        const run = runPartition(p, slot, () => {
          inFlight--;
          queueAhead();
        });
        // Handled here too: when an earlier run of this slot throws, later ones are not awaited.
        run.catch(() => {});
        started.push(run);
      };
      start(slot);
      queueAhead();
      // `started` grows while it is awaited: each answer starts the slot's next tail first.
      for (let i = 0; i < started.length; i++) await started[i];
    }));
    const executorsDone = performance.now();
    let reexecuteMs = 0;

    let preloaded = false;
    const base: BaseReader = (key) => {
      const cached = local.cache.peek(key, req.baseHeight);
      if (cached !== undefined) return cached;
      return local.cache.load([key], req.baseHeight).then((v) => v[0] ?? null);
    };
    const memory = new BlockMemory(base);
    const coinbase = accountKey(env.coinbase);
    const evmEnv = toEvmEnv(env, req.recentHashes);
    // Pushed, not `.map(calledContract)`: inlined into this function's optimized code, a map makes
    // a holey array where the unoptimized code had made a packed one, and the loads below deoptimized
    // on it the first block after TurboFan compiled runParallel (lib/exec/requests.ts).
    const targets: Array<string | null> = [];
    for (const fields of plan.fields) targets.push(calledContract(fields));
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
        memoryBytes += RESULT_BYTES + (txReads.length + writes[i]!.length) * ENTRY_BYTES;
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
      deps.push(writersOf(outcome.reads.values()));
      memoryBytes += RESULT_BYTES + (outcome.reads.size + outcome.writes.size) * ENTRY_BYTES;
      final.push(toTxResult(outcome, i, incarnation, false));
    }
    await memory.settle();
    this.hot.observe({ height: env.number, txs: n, conflictingTxs: reexecutions, conflicts: unexplained, contracts: contracts.contracts });
    const chain = longestChain(deps);
    const finished = performance.now();
    return {
      results: final,
      writes: memory.blockWrites(),
      report: {
        height: env.number, txs: n, mode: 'parallel', serialReason: '', partitions: partitions.length,
        executions: n + reexecutions, reexecutions, topKeys: topKeys(conflicts), longestChain: chain,
        idealSpeedup: chain === 0 ? 1 : n / chain, partitionRetries: retries, fallbacks, stateRoundTrips: roundTrips,
        memoryBytes, execMs: finished - started, planMs: 0, executorsMs: executorsDone - started,
        validateMs: finished - executorsDone - reexecuteMs, reexecuteMs, ...NO_LOOKAHEAD,
      },
    };
  }

  /**
   * Runs a partition in this process, over the local cache and the partition's own earlier
   * writes, as an executor would, and stores each tx's result, read-set and write-set as the
   * EVM made them. Returns the state round trips it took.
   */
  private async runLocalPartition(
    sub: ExecRequest, local: LocalExecution, optimistic: (TxResult | undefined)[],
    reads: Array<ReadVersionEntry[] | undefined>, writes: Array<Array<[StateKey, Buffer | null]> | undefined>,
  ): Promise<number> {
    const indexes = sub.txIndexes;
    const run = await runBlockSerially(local.partitionExecutor!, sub, local.cache, {
      ...(local.patterns !== undefined ? { patterns: local.patterns } : {}),
      wire: false,
      yieldEveryMs: LOCAL_PARTITION_YIELD_MS,
      onOutcome: (k, outcome) => {
        const i = indexes[k]!;
        const entries: ReadVersionEntry[] = [];
        for (const [key, r] of outcome.reads) entries.push({ key, txIndex: r.txIndex, incarnation: r.incarnation });
        reads[i] = entries;
        writes[i] = [...outcome.writes];
      },
    });
    for (const r of run.results) optimistic[r.txIndex] = r;
    return run.roundTrips;
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
  private alignLocal(local: LocalExecution, baseHeight: bigint): void {
    if (local.cache.height !== baseHeight) local.cache.reset(baseHeight);
  }
}

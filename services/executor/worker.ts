// The executor: a stateless worker in the `executors` queue group. It runs blocks (ExecRequest)
// and eth_call/eth_estimateGas (CallRequest) against committed state, which it reads from the
// state service in batches and caches at one height, kept warm by the scheduler's executed-block
// fan-out (BlockExecuted: each block's writes).
import type { NatsConnection, Subscription } from 'nats';
import {
  BlockCommitted, BlockExecuted, CallRequest, CallResponse, ExecRequest, ExecResponse, ExecutorHello, HeadRequest, HeadResponse,
  LookaheadResponse, StateReadRequest, StateReadResponse,
} from '../../gen/lanes/v1/bus.js';
import { request, serve } from '../../lib/bus/nats.js';
import { withViews } from '../../lib/bus/protoBytes.js';
import {
  BLOCK_COMMITTED_SUBJECT, BLOCK_EXECUTED_SUBJECT, EXEC_BLOCK_SUBJECT, EXEC_CALL_SUBJECT, EXECUTOR_HELLO_MS, EXECUTOR_HELLO_SUBJECT, EXECUTOR_QUEUE,
  executorBlockSubject, executorLookaheadSubject, STATE_HEAD_SUBJECT, STATE_READ_SUBJECT,
} from '../../lib/bus/subjects.js';
import type { Genesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import { TxExecutor, type CallRequest as EvmCallRequest } from '../../lib/evm/index.js';
import { runBlockSerially, toEvmEnv, warmAhead } from '../../lib/exec/blockRun.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { KeyFilterKeeper } from '../../lib/exec/keyFilterKeeper.js';
import { warmUpExecution, warmUpLogFields, type WarmUpReport } from '../../lib/exec/warmUp.js';
import { BlockOverlaySource } from '../../lib/exec/overlaySource.js';
import { scavengeNow } from '../../lib/idleGc.js';
import type { Logger } from '../../lib/log.js';
import { bigintToBytes, bytesToBigint, keyFromBytes, keyToBytes, type StateKey } from '../../lib/state/keys.js';

/** How long a block request waits for the commit notification of its base height. */
const CACHE_CATCH_UP_MS = 200;
/** A partition run lets other messages in (a lookahead for the next block) at least this often. */
const PARTITION_YIELD_MS = 16;
/**
 * Requests decode with their txs' bytes as views into the message (lib/bus/protoBytes.ts): they
 * live as long as the request; what outlives it (learned patterns, cached state) is copied.
 */
const EXEC_REQUEST_VIEWS = withViews(ExecRequest);

export interface ExecutorStats {
  blocks: number;
  txs: number;
  calls: number;
  cacheHeight: bigint;
  cacheEntries: number;
  roundTrips: number;
}

/** The state service refused a read below its history window (LANES_STATE_RETAIN_BLOCKS). */
class StatePrunedReadError extends Error {
  override readonly name = 'StatePrunedReadError';
}

/**
 * How long a call at a height above this executor's head waits for that block's commit to reach
 * it: ingress names heights it has seen committed, and the commit's fan-out may reach an executor
 * later (under load, hundreds of ms).
 */
const CALL_HEIGHT_WAIT_MS = 2_000;

/** A call named a height this executor has not seen committed, even after waiting for it. */
class UnknownHeightError extends Error {
  override readonly name = 'UnknownHeightError';
}

export class ExecutorWorker {
  private readonly cache: CommittedStateCache;
  /** The state writer's key filter on the cache (LANES_KEY_FILTER): misses on keys never written need no read. */
  private readonly keyFilters: KeyFilterKeeper | null;
  private readonly subs: Subscription[] = [];
  private head: { number: bigint; timestamp: bigint; hashes: Buffer[] } = { number: 0n, timestamp: 0n, hashes: [] };
  private readonly counters = { blocks: 0, txs: 0, calls: 0 };
  private commitWaiters: Array<() => void> = [];
  private headKnown = false;
  private inflight = 0;
  private readonly patterns = new AccessPatternLearner();
  private helloTimer: NodeJS.Timeout | null = null;
  /** Unique per process: the direct subject other executors' ids never collide with. */
  readonly executorId: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly executor: TxExecutor,
    /** Same EVM in coinbase-delta mode, for partitions of parallel blocks. */
    private readonly partitionExecutor: TxExecutor,
    private readonly config: LanesConfig,
    private readonly genesis: Genesis,
    private readonly log: Logger,
  ) {
    this.executorId = `${config.instanceId}-${Date.now().toString(36)}`.replace(/[^A-Za-z0-9_-]/g, '_');
    this.cache = new CommittedStateCache((keys, height) => this.readState(keys, height), config.executor.cacheMaxEntries);
    this.keyFilters = config.scheduler.keyFilter ? new KeyFilterKeeper(nc, this.cache, config.requestTimeoutMs, log) : null;
  }

  static async create(nc: NatsConnection, config: LanesConfig, genesis: Genesis, log: Logger): Promise<ExecutorWorker> {
    const plain = await TxExecutor.create({ chainId: genesis.chainId });
    const deltas = await TxExecutor.create({ chainId: genesis.chainId, coinbaseDeltas: true });
    return new ExecutorWorker(nc, plain, deltas, config, genesis, log);
  }

  /**
   * Warms the JIT on a private workload (lib/exec/warmUp.ts) with both EVMs. Call before start():
   * a cold executor runs its first few thousand txs two to five times slower, and a parallel
   * block waits for its slowest partition.
   */
  async warmUp(): Promise<WarmUpReport> {
    const report = await warmUpExecution([this.executor, this.partitionExecutor], { ...this.config.warmUp, chainId: this.genesis.chainId });
    if (report.txs > 0) this.log.info(warmUpLogFields(report), 'executor warmed up');
    return report;
  }

  stats(): ExecutorStats {
    const c = this.cache.stats();
    return { ...this.counters, cacheHeight: c.height, cacheEntries: c.entries, roundTrips: c.roundTrips };
  }

  start(): void {
    const committed = this.nc.subscribe(BLOCK_COMMITTED_SUBJECT);
    this.subs.push(committed);
    void (async () => {
      for await (const m of committed) this.onCommitted(BlockCommitted.decode(m.data));
    })();
    // A block's final writes ahead of its commit: the next block runs on them while it commits.
    const executed = this.nc.subscribe(BLOCK_EXECUTED_SUBJECT);
    this.subs.push(executed);
    void (async () => {
      for await (const m of executed) this.onExecuted(BlockExecuted.decode(m.data));
    })();
    const onError = (err: unknown): ExecResponse => ({
      requestId: 0n, results: [], error: (err as Error).message, stateRoundTrips: 0, executorId: this.config.instanceId, cpuMicros: 0n,
    });
    this.subs.push(serve(this.nc, EXEC_BLOCK_SUBJECT, EXEC_REQUEST_VIEWS, ExecResponse, (req) => this.executeBlock(req), onError,
      { queue: EXECUTOR_QUEUE, maxConcurrent: 1, maxPending: 4 }, this.log));
    // Work by affinity: the scheduler addresses this executor directly once it said hello.
    this.subs.push(serve(this.nc, executorBlockSubject(this.executorId), EXEC_REQUEST_VIEWS, ExecResponse, (req) => this.executeBlock(req), onError,
      { maxConcurrent: 1, maxPending: 8 }, this.log));
    // The next block's likely txs, while this one runs: load their state now (see warmAhead).
    this.subs.push(serve(this.nc, executorLookaheadSubject(this.executorId), EXEC_REQUEST_VIEWS, LookaheadResponse, (req) => this.lookahead(req),
      (err) => ({ keysLoaded: 0, stateRoundTrips: 0, error: (err as Error).message }), { maxConcurrent: 1, maxPending: 4 }, this.log));
    this.hello(false);
    this.helloTimer = setInterval(() => this.hello(false), EXECUTOR_HELLO_MS);
    this.subs.push(serve(this.nc, EXEC_CALL_SUBJECT, CallRequest, CallResponse, (req) => this.call(req),
      (err) => ({ success: false, returnData: Buffer.alloc(0), gasUsed: 0n, error: (err as Error).message, errorCode: -32603 }),
      { queue: EXECUTOR_QUEUE, maxConcurrent: this.config.executor.maxConcurrentRequests, maxPending: 256 }, this.log));
  }

  /** Scale-down: say goodbye so the scheduler sends nothing new, then stop taking requests. */
  async stop(): Promise<void> {
    if (this.helloTimer !== null) clearInterval(this.helloTimer);
    this.hello(true);
    for (const sub of this.subs) sub.unsubscribe();
  }

  private hello(leaving: boolean): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(EXECUTOR_HELLO_SUBJECT, ExecutorHello.encode({
      executorId: this.executorId, inflight: this.inflight, blocks: BigInt(this.counters.blocks), txs: BigInt(this.counters.txs), leaving,
    }).finish());
  }

  private onCommitted(msg: BlockCommitted): void {
    const header = msg.header;
    if (header === undefined) return;
    // The cache moves with the scheduler's BlockExecuted (the writes); a commit only confirms it.
    this.cache.confirm(header.number);
    this.headKnown = true;
    if (header.number > this.head.number) {
      const hashes = [...this.head.hashes, header.hash].slice(-256);
      this.head = { number: header.number, timestamp: header.timestamp, hashes };
    }
    for (const wake of this.commitWaiters.splice(0)) wake();
  }

  private onExecuted(msg: BlockExecuted): void {
    this.cache.applyExecuted(msg.height, msg.writes.map((w) => [keyFromBytes(w.key), w.absent ? null : w.value] as const));
    for (const wake of this.commitWaiters.splice(0)) wake();
    // The block has ended: scavenge now, while the next one is being committed, not mid-partition (lib/idleGc.ts).
    scavengeNow();
  }

  /** Brings the cache to the block's base height: wait briefly for the fan-out, else start over there. */
  private async alignCache(baseHeight: bigint): Promise<void> {
    if (this.cache.height === baseHeight) return;
    if (this.cache.height < baseHeight && this.cache.height >= 0n) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CACHE_CATCH_UP_MS);
        this.commitWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    if (this.cache.height !== baseHeight) this.cache.reset(baseHeight);
  }

  /** Whether the cache has the state writer's key filter (LANES_KEY_FILTER). */
  get hasKeyFilter(): boolean {
    return this.cache.filter !== null;
  }

  private async executeBlock(req: ExecRequest): Promise<ExecResponse> {
    const cpuStart = process.cpuUsage();
    this.inflight++;
    let run: Awaited<ReturnType<typeof runBlockSerially>>;
    try {
      await this.alignCache(req.baseHeight);
      this.keyFilters?.refresh();
      run = await runBlockSerially(req.partition ? this.partitionExecutor : this.executor, req, this.cache, {
        patterns: this.patterns, yieldEveryMs: PARTITION_YIELD_MS,
      });
    } finally {
      this.inflight--;
    }
    const { results, roundTrips } = run;
    this.counters.blocks++;
    this.counters.txs += results.length;
    const cpu = process.cpuUsage(cpuStart);
    this.log.debug({
      height: req.env?.number, txs: results.length, roundTrips, partition: req.partition,
      prefetchMs: Math.round(run.prefetchMs), executeMs: Math.round(run.executeMs), cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    }, 'block executed');
    return {
      requestId: req.requestId, results, error: '', stateRoundTrips: roundTrips, executorId: this.config.instanceId,
      cpuMicros: BigInt(cpu.user + cpu.system),
    };
  }

  private async lookahead(req: ExecRequest): Promise<LookaheadResponse> {
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    const { keysLoaded, roundTrips } = await warmAhead(req, this.cache, this.patterns);
    const cpu = process.cpuUsage(cpuStart);
    this.log.debug({
      height: req.env?.number, txs: req.txs.length, keysLoaded, roundTrips, ms: Math.round(performance.now() - started),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    }, 'lookahead loaded');
    return { keysLoaded, stateRoundTrips: roundTrips, error: '' };
  }

  private async call(req: CallRequest): Promise<CallResponse> {
    try {
      return await this.callAt(req);
    } catch (err) {
      // A height below the state's history window is the caller's mistake: a server error that names the window.
      // One above the chain's head is too (or the commit is late): a server error, never an answer at another height.
      if (err instanceof StatePrunedReadError || err instanceof UnknownHeightError) {
        return { success: false, returnData: Buffer.alloc(0), gasUsed: 0n, error: err.message, errorCode: -32000 };
      }
      throw err;
    }
  }

  private async callAt(req: CallRequest): Promise<CallResponse> {
    this.counters.calls++;
    let head = await this.latestHead();
    // A height above the head is served there once its commit arrives, not at the head: that would
    // answer for another block (a contract not yet deployed reads as empty).
    if (!req.latest && req.height > head.number) head = await this.headAtLeast(req.height);
    const height = req.latest ? head.number : req.height;
    const env = toEvmEnv({
      number: height + 1n,
      timestamp: head.timestamp + 1n,
      coinbase: this.genesis.coinbase,
      gasLimit: this.genesis.gasLimit,
      baseFeePerGas: bigintToBytes(this.genesis.baseFeePerGas),
      prevRandao: Buffer.alloc(32),
      chainId: this.genesis.chainId,
    }, height === head.number ? head.hashes : []);
    const source = new BlockOverlaySource(this.cache, height);
    const callReq: EvmCallRequest = {
      from: req.from.length === 20 ? req.from : Buffer.alloc(20),
      to: req.to.length === 20 ? req.to : null,
      data: req.data,
      value: bytesToBigint(req.value),
      ...(req.gas > 0n ? { gasLimit: req.gas } : {}),
    };
    if (req.estimate) {
      const est = await this.executor.estimateGas(callReq, env, source);
      return { success: est.success, returnData: est.returnData, gasUsed: est.gasLimit, error: est.error ?? '', errorCode: est.success ? 0 : 3 };
    }
    const res = await this.executor.call(callReq, env, source);
    return { success: res.success, returnData: res.returnData, gasUsed: res.gasUsed, error: res.error ?? '', errorCode: res.success ? 0 : 3 };
  }

  /** This executor's head once it has reached `height` (at most CALL_HEIGHT_WAIT_MS from now). */
  private async headAtLeast(height: bigint): Promise<{ number: bigint; timestamp: bigint; hashes: Buffer[] }> {
    const deadline = Date.now() + CALL_HEIGHT_WAIT_MS;
    while (this.head.number < height) {
      const left = deadline - Date.now();
      if (left <= 0) throw new UnknownHeightError(`header not found: height ${height} is above the chain head ${this.head.number}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => { clearTimeout(timer); resolve(); };
        // On timeout the waker leaves the list: a chain that stalls must not collect one per call.
        const timer = setTimeout(() => {
          const at = this.commitWaiters.indexOf(wake);
          if (at >= 0) this.commitWaiters.splice(at, 1);
          resolve();
        }, left);
        this.commitWaiters.push(wake);
      });
    }
    return this.head;
  }

  private async latestHead(): Promise<{ number: bigint; timestamp: bigint; hashes: Buffer[] }> {
    if (this.headKnown) return this.head;
    const res = await request(this.nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, this.config.requestTimeoutMs);
    if (res.header !== undefined && res.height >= this.head.number) {
      this.head = { number: res.height, timestamp: res.header.timestamp, hashes: [res.header.hash] };
      if (this.cache.height < res.height) this.cache.reset(res.height);
    }
    this.headKnown = true;
    return this.head;
  }

  private async readState(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    const res = await request(this.nc, STATE_READ_SUBJECT, StateReadRequest, { height, keys: keys.map(keyToBytes), latest: false }, StateReadResponse, this.config.requestTimeoutMs);
    if (res.error !== '' && res.oldestReadable > 0n) throw new StatePrunedReadError(res.error);
    if (res.error !== '') throw new Error(`state read at ${height}: ${res.error}`);
    return res.entries.map((e) => (e.absent ? null : e.value));
  }
}

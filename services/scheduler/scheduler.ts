// The scheduler loop: takes ordered blocks from LANES_BLOCKS in height order, has executors run
// them (ExecRequest over the `executors` queue group), assembles receipts and the write set,
// commits through the state service (fenced by height) and then trims the streams. On restart
// it resumes after the state's committed height, so a block is never applied twice.
import type { JetStreamManager, JsMsg, NatsConnection } from 'nats';
import {
  BlockRequest, BlockResponse, CommitResponse, ConflictReportRequest, ConflictReportResponse, HeadRequest, HeadResponse,
  OrderedBlock, StateReadRequest, StateReadResponse, type BlockEnv, type ExecRequest, type TxResult,
} from '../../gen/lanes/v1/bus.js';
import { request, requestEncoded, serve } from '../../lib/bus/nats.js';
import {
  BLOCK_EXECUTED_SUBJECT, BLOCK_STREAM, MAX_PAYLOAD_BYTES, SCHEDULER_REPORT_SUBJECT, STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_HEAD_SUBJECT, STATE_READ_SUBJECT, TX_STREAM,
} from '../../lib/bus/subjects.js';
import { CHOSEN_SERIAL_REASON, HotKeyTracker, ParallelEngine, reportToJson, type BlockExecution, type ConflictReport, type LocalExecution } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import type { BlockWrites } from '../../lib/exec/blockRun.js';
import { blockIndexes } from '../../lib/exec/requests.js';
import { warmUpExecution, warmUpLogFields } from '../../lib/exec/warmUp.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { KeyFilterKeeper } from '../../lib/exec/keyFilterKeeper.js';
import { keyToBytes } from '../../lib/state/keys.js';
import { NatsExecutorPool } from './executorPool.js';
import type { Genesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/log.js';
import { bigintToBytes } from '../../lib/state/keys.js';
import { encodeCommit } from './assemble.js';
import { BLOCKHASH_WINDOW, RecentHashes } from './recentHashes.js';

export interface SchedulerStats {
  committedHeight: bigint;
  blocks: number;
  txs: number;
  rejected: number;
  execRetries: number;
  lastBlockMs: number;
  running: boolean;
  executions: number;
  reexecutions: number;
  parallelBlocks: number;
  serialBlocks: number;
  serialFallbacks: number;
  /** Blocks run again because a tx read the hash of the block still committing (pipelining). */
  blockHashReruns: number;
  /** Blocks that began executing while the block before was still committing (pipelining). */
  overlappedBlocks: number;
  /**
   * Wall ms of blocks run in this process because the mode chooser found parallel slower lately:
   * EVM work that executors do where parallel pays (the capacity projection counts it with them).
   */
  chosenSerialMs: number;
  executors: number;
}

interface InflightCommit {
  height: bigint;
  /** Settles once the commit landed and was recorded (hash, committed height, caches). */
  done: Promise<void>;
}

/** Conflict reports kept for `lanes report` and gRPC (the most recent blocks). */
const REPORTS_KEPT = 256;

/**
 * Decodes ordered-block messages, answering the last one again without decoding it: a block
 * peeked at as `next` is decoded once, not again when its turn comes, and the same txs array is
 * what lets the engine reuse the plan its lookahead made. Keyed by the message, not its data: a
 * message with headers (JetStream's) gives a new view of its data at each access.
 */
export function lastBlockDecoder(): (msg: Pick<JsMsg, 'data'>) => OrderedBlock {
  let last: { msg: Pick<JsMsg, 'data'>; block: OrderedBlock } | null = null;
  return (msg) => {
    if (last?.msg !== msg) last = { msg, block: OrderedBlock.decode(msg.data) };
    return last.block;
  };
}

export class Scheduler {
  private readonly recent = new RecentHashes();
  private committedHeight = 0n;
  private stopping = false;
  private running = false;
  private requestId = 0n;
  private readonly counters = {
    blocks: 0, txs: 0, rejected: 0, execRetries: 0, lastBlockMs: 0, executions: 0, reexecutions: 0, parallelBlocks: 0, serialBlocks: 0, serialFallbacks: 0,
    blockHashReruns: 0, overlappedBlocks: 0, chosenSerialMs: 0,
  };
  private readonly pool: NatsExecutorPool;
  private readonly engine: ParallelEngine;
  private local: LocalExecution | null = null;
  private readonly reports = new Map<bigint, ConflictReport>();
  private stopMessages: () => void = () => {};
  private loopDone: Promise<void> = Promise.resolve();
  /** The streams' trim after the last commit, still running while the next block executes. */
  private trimming: Promise<void> = Promise.resolve();
  /** The last committed block not trimmed up to yet, while a trim runs (trims are cumulative). */
  private trimTarget: OrderedBlock | null = null;
  private trimRunning = false;
  /** The last block sent to commit; with pipelining, the next block executes while it commits. */
  private inflight: InflightCommit | null = null;
  /** Keeps the state writer's key filter on the local cache (LANES_KEY_FILTER). */
  private keyFilters: KeyFilterKeeper | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly config: LanesConfig,
    private readonly genesis: Genesis,
    private readonly log: Logger,
  ) {
    this.pool = new NatsExecutorPool(nc, config.scheduler.execTimeoutMs);
    this.engine = new ParallelEngine({
      minParallelTxs: config.scheduler.minParallelTxs,
      maxConflictShare: config.scheduler.maxConflictShare,
      maxGroupShare: config.scheduler.maxGroupShare,
      maxPartitions: config.scheduler.maxPartitions,
      tailsPerExecutor: config.scheduler.tailsPerExecutor,
      tailShare: config.scheduler.tailShare,
      queueAhead: config.scheduler.queueAhead,
      attempts: Math.max(1, config.scheduler.execRetries),
      serialInProcess: config.scheduler.serialInProcess,
      adaptiveMode: config.scheduler.adaptiveMode,
      localPartitionMaxExecutors: config.scheduler.localPartitionMaxExecutors,
    }, new HotKeyTracker(), log);
  }

  stats(): SchedulerStats {
    return { committedHeight: this.committedHeight, ...this.counters, running: this.running, executors: this.pool.live().length };
  }

  /** The conflict report of block `height` (0n = the latest), if still kept. */
  report(height: bigint): ConflictReport | undefined {
    if (height === 0n) return this.reports.get(this.committedHeight);
    return this.reports.get(height);
  }

  async start(): Promise<void> {
    const head = await this.waitForState();
    this.committedHeight = head.height;
    this.pool.start();
    const localCache = new CommittedStateCache(async (keys, height) => {
      const res = await request(this.nc, STATE_READ_SUBJECT, StateReadRequest, { height, keys: keys.map(keyToBytes), latest: false }, StateReadResponse, this.config.requestTimeoutMs);
      if (res.error !== '') throw new Error(`state read at ${height}: ${res.error}`);
      return res.entries.map((e) => (e.absent ? null : e.value));
    }, this.config.executor.cacheMaxEntries);
    this.local = { executor: await TxExecutor.create({ chainId: this.genesis.chainId }), cache: localCache, patterns: new AccessPatternLearner() };
    // Partitions of parallel blocks run here too while executors are few (LANES_LOCAL_PARTITION_MAX_EXECUTORS), in coinbase-delta mode as on executors.
    const localPartitions = this.config.scheduler.localPartitionMaxExecutors > 0;
    if (localPartitions) this.local.partitionExecutor = await TxExecutor.create({ chainId: this.genesis.chainId, coinbaseDeltas: true });
    const warmed = [this.local.executor, ...(this.local.partitionExecutor !== undefined ? [this.local.partitionExecutor] : [])];
    if (this.config.scheduler.serialInProcess || localPartitions) {
      // Blocks and partitions run here: warm the JIT before the first one (lib/exec/warmUp.ts).
      const warm = await warmUpExecution(warmed, { ...this.config.warmUp, chainId: this.genesis.chainId });
      if (warm.txs > 0) this.log.info(warmUpLogFields(warm), 'scheduler warmed up');
    }
    if (this.config.scheduler.keyFilter) this.keyFilters = new KeyFilterKeeper(this.nc, localCache, this.config.requestTimeoutMs, this.log);
    this.reportSub = serve(this.nc, SCHEDULER_REPORT_SUBJECT, ConflictReportRequest, ConflictReportResponse, (req) => {
      const r = this.report(req.height);
      return r === undefined ? { found: false, json: '' } : { found: true, json: JSON.stringify(reportToJson(r)) };
    }, () => ({ found: false, json: '' }), { maxConcurrent: 4, maxPending: 64 }, this.log);
    await this.loadRecentHashes(head.height);
    const consumer = await this.nc.jetstream().consumers.get(BLOCK_STREAM, { opt_start_seq: Number(head.height + 1n) });
    const messages = await consumer.consume({ max_messages: 4 });
    this.stopMessages = () => messages.stop();
    this.running = true;
    this.log.info({ committedHeight: head.height }, 'scheduler resuming after committed height');
    this.loopDone = (async () => {
      try {
        // One block ahead: when the next block has already arrived, the engine loads its state
        // while this one runs (lookahead). The consumer's own buffer bounds how far ahead blocks wait.
        const blocks = messages[Symbol.asyncIterator]();
        let current = await blocks.next();
        const decode = lastBlockDecoder();
        while (!current.done && !this.stopping) {
          const pending = blocks.next();
          const arrived = await Promise.race([pending, new Promise<null>((resolve) => setImmediate(() => resolve(null)))]);
          const block = decode(current.value);
          const next = arrived === null || arrived.done ? undefined : decode(arrived.value);
          await this.processBlock(block, next);
          current = await pending;
        }
      } catch (err) {
        this.fail(err);
      } finally {
        this.running = false;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopMessages();
    await this.loopDone;
    await this.inflight?.done.catch(() => undefined);
    await this.trimming;
    this.pool.stop();
    this.reportSub?.unsubscribe();
  }

  private reportSub: { unsubscribe(): void } | null = null;

  blockEnv(block: OrderedBlock): BlockEnv {
    return {
      number: block.height,
      timestamp: block.timestamp,
      coinbase: this.genesis.coinbase,
      gasLimit: this.genesis.gasLimit,
      baseFeePerGas: bigintToBytes(this.genesis.baseFeePerGas),
      prevRandao: block.digest,
      chainId: this.genesis.chainId,
    };
  }

  private execRequest(block: OrderedBlock, recentHashes: Buffer[]): ExecRequest {
    return {
      env: this.blockEnv(block),
      baseHeight: block.height - 1n,
      txs: block.txs,
      txIndexes: blockIndexes(block.txs.length),
      recentHashes,
      prefetched: [],
      requestId: ++this.requestId,
      partition: false,
    };
  }

  /**
   * `next`: the block after this one, when it has already arrived (its state is loaded ahead).
   *
   * Pipelined (LANES_PIPELINE_COMMITS, the default): the block executes while the one before it
   * is still committing. Its base state is that block's final writes (in the local cache and, by
   * BlockExecuted, in the executors' caches) over the committed state below, so nothing waits for
   * the commit but this block's own commit, which is sent once the one before has landed (the
   * state service commits in height order). What the commit alone decides is the block hash: a
   * tx that asks BLOCKHASH for the block still committing marks its result, and the block runs
   * again once the hash is known (rare: contracts seldom read the last block's hash).
   */
  private async processBlock(block: OrderedBlock, next: OrderedBlock | undefined): Promise<void> {
    const previous = this.inflight;
    const executedHeight = previous?.height ?? this.committedHeight;
    if (block.height <= executedHeight) return; // already committed before a restart
    if (block.height !== executedHeight + 1n) {
      throw new Error(`block ${block.height} arrived while executed height is ${executedHeight} (committed ${this.committedHeight})`);
    }
    const started = performance.now();
    if (previous !== null && this.committedHeight < previous.height) this.counters.overlappedBlocks++;
    const req = this.execRequest(block, this.hashWindow(block.height, previous));
    const env = req.env!;
    // The lookahead reads no block hashes: the next block's window is not known until this one commits.
    const ahead = next !== undefined && next.height === block.height + 1n ? this.execRequest(next, []) : undefined;
    let execution: { results: TxResult[]; writes: BlockWrites } = block.txs.length === 0 ? { results: [], writes: [] } : await this.execute(req, ahead);
    let execMs = performance.now() - started;
    // The block before must have committed before this one's writes go out or its commit is sent.
    const waited = performance.now();
    if (previous !== null) await previous.done;
    const waitMs = performance.now() - waited;
    if (previous !== null && execution.results.some((r) => r.readsPendingBlockHash)) {
      this.counters.blockHashReruns++;
      this.log.info({ height: block.height.toString() }, 'a tx read the hash of the block still committing; running the block again with it');
      const rerun = performance.now();
      execution = await this.execute(this.execRequest(block, this.recent.windowFor(block.height)), ahead);
      execMs += performance.now() - rerun;
    }
    const { writes } = execution;
    const assembling = performance.now();
    // Encoded once (encodeCommit): while the commit is in flight, through the next block's run
    // when pipelining, this keeps two payloads and the block's writes, not its results.
    const { commit: commitPayload, executed: executedPayload, txs, rejected } = encodeCommit(block, env, execution.results, writes);
    execution = { results: [], writes };
    const assembleMs = performance.now() - assembling;
    const pipelining = this.config.scheduler.pipelineCommits;
    const pipelined = pipelining && this.announceExecuted(executedPayload, block.height);
    if (pipelined) this.local?.cache.applyExecuted(block.height, writes);
    const sent = performance.now();
    const inflight: InflightCommit = {
      height: block.height,
      done: this.commitWithRetries(commitPayload, block.height).then((res) => {
        const header = res.header!;
        if (!pipelining) this.announceExecuted(executedPayload, block.height);
        this.local?.cache.applyCommitted(header.number, writes);
        this.recent.record(header.number, header.hash);
        this.committedHeight = header.number;
        this.scheduleTrim(block);
        const committed = performance.now();
        this.counters.blocks++;
        this.counters.txs += txs;
        this.counters.rejected += rejected;
        this.counters.lastBlockMs = committed - started;
        this.log[block.txs.length === 0 ? 'debug' : 'info']({
          height: header.number, txs, rejected,
          gasUsed: header.gasUsed.toString(), execMs: Math.round(execMs), prevCommitWaitMs: Math.round(waitMs), assembleMs: Math.round(assembleMs),
          commitMs: Math.round(committed - sent), totalMs: Math.round(committed - started), pipelined,
          alreadyCommitted: res.alreadyCommitted,
        }, 'block committed');
      }),
    };
    // A commit that fails for good stops the scheduler, as before: a restart resumes from the state.
    inflight.done.catch((err) => this.fail(err));
    this.inflight = inflight;
    if (!pipelined) await inflight.done;
  }

  /** The BLOCKHASH window; the block still committing (if any) has an empty hash: unknown yet. */
  private hashWindow(height: bigint, previous: InflightCommit | null): Buffer[] {
    if (previous === null || previous.height !== height - 1n || this.committedHeight >= previous.height) return this.recent.windowFor(height);
    const window = this.recent.windowFor(height - 1n);
    if (window.length >= BLOCKHASH_WINDOW) window.shift();
    window.push(Buffer.alloc(0));
    return window;
  }

  /**
   * Hands executors this block's final writes, which is how their caches move to its height
   * (BlockCommitted carries no writes). False when they do not fit in one message: executors
   * then start over at the next block's base height, and the next block waits for this commit.
   */
  private announceExecuted(payload: Uint8Array, height: bigint): boolean {
    if (payload.length > MAX_PAYLOAD_BYTES) {
      this.log.warn({ height: height.toString(), bytes: payload.length }, 'block writes exceed one message; this block commits before the next runs');
      return false;
    }
    this.nc.publish(BLOCK_EXECUTED_SUBJECT, payload);
    return true;
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.log.fatal({ err }, 'scheduler loop failed; exiting so a restart resumes from committed state');
    process.exit(1);
  }

  /**
   * Runs the block through the engine: in parallel on the executors when it pays, serially on
   * one otherwise, and in this process as the last resort, so a block never waits on executors.
   */
  private async execute(req: ExecRequest, next: ExecRequest | undefined): Promise<BlockExecution> {
    if (this.local === null) throw new Error('scheduler not started');
    this.keyFilters?.refresh();
    const execution = await this.engine.executeBlock(req, this.pool, this.local, next);
    const { report } = execution;
    this.counters.executions += report.executions;
    this.counters.reexecutions += report.reexecutions;
    this.counters.execRetries += report.partitionRetries;
    this.counters.serialFallbacks += report.fallbacks;
    if (report.mode === 'parallel') this.counters.parallelBlocks++;
    else this.counters.serialBlocks++;
    if (report.serialReason === CHOSEN_SERIAL_REASON && this.config.scheduler.serialInProcess) this.counters.chosenSerialMs += report.execMs;
    this.reports.set(report.height, report);
    if (this.reports.size > REPORTS_KEPT) this.reports.delete(this.reports.keys().next().value!);
    this.log.info({ report: reportToJson(report) }, 'conflict report');
    return execution;
  }

  private async commitWithRetries(payload: Uint8Array, height: bigint): Promise<CommitResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await requestEncoded(this.nc, STATE_COMMIT_SUBJECT, payload, CommitResponse, this.config.requestTimeoutMs * 3);
        if (res.error !== '') throw new Error(res.error);
        if (res.header === undefined) throw new Error('commit answered without a header');
        return res;
      } catch (err) {
        // A commit is idempotent (fenced by height), so retrying after a timeout is safe.
        if (this.stopping || attempt >= 20) throw err;
        this.log.warn({ err: (err as Error).message, height, attempt }, 'commit failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  /**
   * Trims the streams up to `block`, committed. Cleanup (a restart resumes after the committed
   * height whatever the streams hold), so nothing waits for it. One trim at a time: a commit that
   * lands meanwhile only moves the target, since a trim up to a block covers every earlier one.
   */
  private scheduleTrim(block: OrderedBlock): void {
    this.trimTarget = block;
    if (this.trimRunning) return;
    this.trimRunning = true;
    this.trimming = (async () => {
      for (let target = this.trimTarget; target !== null; target = this.trimTarget) {
        this.trimTarget = null;
        await this.trimStreams(target).catch((err) => this.log.warn({ err, height: target!.height }, 'stream trim failed; the next one covers it'));
      }
      this.trimRunning = false;
    })();
  }

  /** Drops what is committed from both streams; the last block stays for the sequencer's restart. */
  private async trimStreams(block: OrderedBlock): Promise<void> {
    if (block.lastTxStreamSeq > 0n) await this.jsm.streams.purge(TX_STREAM, { seq: Number(block.lastTxStreamSeq + 1n) });
    await this.jsm.streams.purge(BLOCK_STREAM, { seq: Number(block.height) });
  }

  private async waitForState(): Promise<HeadResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(this.nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, 2000);
      } catch (err) {
        if (attempt >= 60 || this.stopping) throw err;
        this.log.warn({ attempt }, 'state service not answering yet; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async loadRecentHashes(height: bigint): Promise<void> {
    const from = height >= BigInt(BLOCKHASH_WINDOW) ? height - BigInt(BLOCKHASH_WINDOW) + 1n : 0n;
    const heights: bigint[] = [];
    for (let h = from; h <= height; h++) heights.push(h);
    for (let i = 0; i < heights.length; i += 32) {
      await Promise.all(heights.slice(i, i + 32).map(async (h) => {
        const res = await request(this.nc, STATE_BLOCK_SUBJECT, BlockRequest, { number: h, hash: Buffer.alloc(0), latest: false }, BlockResponse, this.config.requestTimeoutMs);
        if (!res.found || res.header === undefined) throw new Error(`state has no header for committed block ${h}`);
        this.recent.record(h, res.header.hash);
      }));
    }
  }
}

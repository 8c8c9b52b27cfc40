// The engine's parallel path with nothing around it, in one process: ParallelEngine.executeBlock
// with one executor and the scheduler's own slot (EngineOptions.localPartitionMaxExecutors), as
// `bench:engine --executors 1` runs ERC-20 at 10,000 accounts. The executor is this process too:
// its requests and answers are encoded and decoded as the bus carries them, and it runs them as
// services/executor/worker.ts does (its own cache, learned patterns and coinbase-delta EVM; its
// lookahead loads the next block's keys into that cache; the block's writes reach it as a
// BlockExecuted message). No bus, no state service, no yields to other processes.
//
// `bench:instructions --parallel` counts it under callgrind: every instruction a parallel block
// costs on either vCPU, against the baseline's for the same txs. Its ratio bounds what two vCPUs
// can give: a parallel path that costs r× the baseline's instructions runs at most 2/r× as fast,
// before what the two threads cost each other and the time either sits idle.
//
// Deterministic: no tails (each slot runs its head, assigned up front; which slot a tail lands on
// depends on timing), no mode chooser (it reads the clock), hot keys as learned.
import { pino } from 'pino';
import { BlockExecuted, ExecRequest, ExecResponse, type LookaheadResponse } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { encodeMessage } from '../../lib/bus/encode.js';
import { withViews } from '../../lib/bus/protoBytes.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { DEFAULT_ENGINE_OPTIONS, HotKeyTracker, ParallelEngine, type ExecutorPool, type LocalExecution } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { runBlockSerially, warmAhead, type BlockWrites } from '../../lib/exec/blockRun.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { keyFromBytes, keyToBytes } from '../../lib/state/keys.js';
import { blockRequest, stateRoot } from './serialBaseline.js';

const REQUEST_VIEWS = withViews(ExecRequest);
const RESPONSE_VIEWS = withViews(ExecResponse);
const EXECUTED_VIEWS = withViews(BlockExecuted);
const EMPTY = Buffer.alloc(0);

/** One executor in this process, reached through its wire format. */
class InProcessExecutor implements ExecutorPool {
  /** Txs this executor ran. */
  txs = 0;

  private constructor(
    private readonly cache: CommittedStateCache,
    private readonly patterns: AccessPatternLearner,
    private readonly executor: TxExecutor,
  ) {}

  static async create(chainId: bigint, state: ReadonlyMap<string, Buffer>): Promise<InProcessExecutor> {
    const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 1_000_000);
    cache.reset(0n);
    return new InProcessExecutor(cache, new AccessPatternLearner(), await TxExecutor.create({ chainId, coinbaseDeltas: true }));
  }

  size(): number {
    return 1;
  }

  async run(req: ExecRequest, _slot: number): Promise<ExecResponse> {
    const wire = REQUEST_VIEWS.decode(encodeMessage(ExecRequest, req));
    if (!wire.partition) throw new Error('the parallel side sends its executor partitions only');
    const run = await runBlockSerially(this.executor, wire, this.cache, { patterns: this.patterns });
    this.txs += run.results.length;
    const answer = encodeMessage(ExecResponse, {
      requestId: wire.requestId, results: run.results, error: '', stateRoundTrips: run.roundTrips, executorId: 'in-process', cpuMicros: 0n,
    });
    return RESPONSE_VIEWS.decode(answer);
  }

  async lookahead(req: ExecRequest, _slot: number): Promise<LookaheadResponse> {
    const { keysLoaded, roundTrips } = await warmAhead(REQUEST_VIEWS.decode(encodeMessage(ExecRequest, req)), this.cache, this.patterns);
    return { keysLoaded, stateRoundTrips: roundTrips, error: '' };
  }

  /** The block's writes, as the scheduler's BlockExecuted brings them. */
  applyExecuted(height: bigint, writes: BlockWrites): void {
    const msg = EXECUTED_VIEWS.decode(encodeMessage(BlockExecuted, {
      height, writes: writes.map(([key, value]) => ({ key: keyToBytes(key), value: value ?? EMPTY, absent: value === null })),
    }));
    this.cache.applyExecuted(msg.height, msg.writes.map((w) => [keyFromBytes(w.key), w.absent ? null : w.value] as const));
  }
}

export class EngineParallelSide {
  private constructor(
    private readonly genesis: Genesis,
    private readonly blocks: readonly Tx[][],
    private readonly state: Map<string, Buffer>,
    private readonly local: LocalExecution & { cache: CommittedStateCache },
    private readonly remote: InProcessExecutor,
    private readonly engine: ParallelEngine,
  ) {}

  static async create(genesis: Genesis, blocks: readonly Tx[][]): Promise<EngineParallelSide> {
    const state = genesisStateEntries(genesis);
    const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 1_000_000);
    cache.reset(0n);
    const local: LocalExecution & { cache: CommittedStateCache } = {
      executor: await TxExecutor.create({ chainId: genesis.chainId }),
      partitionExecutor: await TxExecutor.create({ chainId: genesis.chainId, coinbaseDeltas: true }),
      cache, patterns: new AccessPatternLearner(),
    };
    const engine = new ParallelEngine(
      { ...DEFAULT_ENGINE_OPTIONS, adaptiveMode: false, tailsPerExecutor: 0, localPartitionMaxExecutors: 1 },
      new HotKeyTracker(), pino({ level: 'silent' }),
    );
    return new EngineParallelSide(genesis, blocks, state, local, await InProcessExecutor.create(genesis.chainId, state), engine);
  }

  private request(b: number): ExecRequest | undefined {
    return blockRequest(this.genesis, this.blocks, b);
  }

  /**
   * Runs block `b` (the next block handed along for the lookahead, as a scheduler has it when
   * blocks queue), then applies its writes to the state and both caches. `parallel` is false when
   * the engine ran it otherwise (serially, or by a fallback).
   */
  async runBlock(b: number): Promise<{ parallel: boolean }> {
    const req = this.request(b);
    if (req === undefined) throw new Error(`no block ${b} (${this.blocks.length} blocks)`);
    const { writes, report } = await this.engine.executeBlock(req, this.remote, this.local, this.request(b + 1));
    for (const [key, value] of writes) {
      if (value === null) this.state.delete(key);
      else this.state.set(key, value);
    }
    const height = BigInt(b + 1);
    this.local.cache.applyCommitted(height, writes);
    this.remote.applyExecuted(height, writes);
    return { parallel: report.mode === 'parallel' && report.fallbacks === 0 };
  }

  /** Txs the executor ran (the rest ran in the scheduler's slot). */
  get executorTxs(): number {
    return this.remote.txs;
  }

  /** The state root of what has run: for equality with the baseline's. */
  root(): Buffer {
    return stateRoot(this.state);
  }
}

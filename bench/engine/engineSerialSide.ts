// The scheduler's own serial path with nothing around it: ParallelEngine.executeBlock with one
// executor that is never asked to run anything (with fewer than two, the engine runs each block
// in its own process, as it does a dependent block), over a CommittedStateCache in front of the
// whole state in a Map, each block's writes applied as a commit would. No bus, no state service.
// `bench:instructions` counts it under callgrind; `bench:serial-pair` times it against the
// baseline in one process.
import { pino } from 'pino';
import type { ExecRequest } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { DEFAULT_ENGINE_OPTIONS, HotKeyTracker, ParallelEngine, type ExecutorPool } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { blockRequest, stateRoot } from './serialBaseline.js';

/**
 * One executor that refuses work: a block the engine sent out would fail and fall back, which
 * runBlock reports, so a run that is not the serial path cannot pass for it.
 */
function idlePool(): ExecutorPool {
  const refuse = (): Promise<never> => Promise.reject(new Error('the engine\'s serial side runs no executors'));
  return { size: () => 1, run: refuse, lookahead: refuse };
}

export class EngineSerialSide {
  private constructor(
    private readonly genesis: Genesis,
    private readonly blocks: readonly Tx[][],
    private readonly state: Map<string, Buffer>,
    private readonly local: { executor: TxExecutor; cache: CommittedStateCache; patterns: AccessPatternLearner },
    private readonly engine: ParallelEngine,
    private readonly pool: ExecutorPool = idlePool(),
  ) {}

  static async create(genesis: Genesis, blocks: readonly Tx[][]): Promise<EngineSerialSide> {
    const state = genesisStateEntries(genesis);
    const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 1_000_000);
    cache.reset(0n);
    const local = { executor: await TxExecutor.create({ chainId: genesis.chainId }), cache, patterns: new AccessPatternLearner() };
    return new EngineSerialSide(genesis, blocks, state, local, new ParallelEngine(DEFAULT_ENGINE_OPTIONS, new HotKeyTracker(), pino({ level: 'silent' })));
  }

  private request(b: number): ExecRequest | undefined {
    return blockRequest(this.genesis, this.blocks, b);
  }

  /**
   * Runs block `b` (the next block handed along, as a scheduler has it when blocks queue), then
   * applies its writes. `serial` is false when the engine ran it otherwise (in parallel, or by a
   * fallback): then it was not the serial path.
   */
  async runBlock(b: number): Promise<{ seconds: number; serial: boolean }> {
    const req = this.request(b);
    if (req === undefined) throw new Error(`no block ${b} (${this.blocks.length} blocks)`);
    const started = performance.now();
    const { writes, report } = await this.engine.executeBlock(req, this.pool, this.local, this.request(b + 1));
    const seconds = (performance.now() - started) / 1000;
    for (const [key, value] of writes) {
      if (value === null) this.state.delete(key);
      else this.state.set(key, value);
    }
    this.local.cache.applyCommitted(BigInt(b + 1), writes);
    return { seconds, serial: report.mode === 'serial' && report.fallbacks === 0 };
  }

  /** The state root of what has run: for equality with the baseline's. */
  root(): Buffer {
    return stateRoot(this.state);
  }
}

// Parallel or serial, by what each has cost lately. Conflicts are not the only reason a block
// gains nothing from parallelism: a block of cheap txs (plain transfers, ≈ 100 µs of EVM each)
// spends as long on the bus hops, encoding and validation around its partitions as on the EVM,
// and a host whose cores do not scale gives the executors less than it promises. So the engine
// keeps, per mode, a moving average of wall time per unit of gas of the blocks it ran that way,
// runs eligible blocks in the cheaper mode, and now and then runs one in the other mode to keep
// that mode's figure current. The first `warmupParallelBlocks` eligible blocks all run in
// parallel, each figure replacing the last: executors JIT-compile the EVM over their first few
// thousand txs (a partition's CPU drops by 3-4× over its first 8 blocks), while the scheduler's
// own serial path warms on every block, so a comparison made earlier judges cold executors and
// keeps them cold by not using them. A probe's figure replaces the old one (the old one may be
// from a cold start); probes come every 2 blocks until each mode has
// EARLY_SAMPLES figures (executors warm up over their first blocks, and an early probe may judge
// a cold executor), then after 4, 8, up to probeEveryBlocks blocks while they confirm the
// choice, and again after 2 when the choice changes. The
// choice moves only time: any mode gives the same result.
export interface ModeChooserOptions {
  /** Weight of the newest sample in the moving averages (0..1]. */
  smoothing: number;
  /** At most this many blocks in one mode before one block runs in the other to refresh its figure. */
  probeEveryBlocks: number;
  /** Parallel must be at least this much cheaper per gas to be chosen (hysteresis against noise). */
  parallelAdvantage: number;
  /** Eligible blocks run in parallel before any comparison, while executors warm up. */
  warmupParallelBlocks: number;
}

export const DEFAULT_MODE_CHOOSER_OPTIONS: ModeChooserOptions = { smoothing: 0.3, probeEveryBlocks: 16, parallelAdvantage: 0.95, warmupParallelBlocks: 8 };

export type ExecutionMode = 'parallel' | 'serial';

/** Figures per mode before probes back off. */
const EARLY_SAMPLES = 4;

export class ModeChooser {
  private readonly cost: Record<ExecutionMode, number | null> = { parallel: null, serial: null };
  private readonly samples: Record<ExecutionMode, number> = { parallel: 0, serial: 0 };
  private sinceProbe = 0;
  private probeInterval = 2;
  private lastBest: ExecutionMode | null = null;
  private warmupLeft: number;

  constructor(private readonly options: ModeChooserOptions = DEFAULT_MODE_CHOOSER_OPTIONS) {
    if (!(options.smoothing > 0 && options.smoothing <= 1)) throw new Error(`ModeChooser: smoothing must be in (0, 1], got ${options.smoothing}`);
    if (options.probeEveryBlocks < 1) throw new Error('ModeChooser: probeEveryBlocks must be >= 1');
    if (!(options.warmupParallelBlocks >= 0)) throw new Error('ModeChooser: warmupParallelBlocks must be >= 0');
    this.warmupLeft = options.warmupParallelBlocks;
  }

  /** The mode for a block that could run in parallel. Untried modes are tried first, parallel first. */
  choose(): ExecutionMode {
    if (this.warmupLeft > 0) return 'parallel';
    const best = this.best();
    if (best === null) return this.cost.parallel === null ? 'parallel' : 'serial';
    if (this.sinceProbe >= Math.min(this.probeInterval, this.options.probeEveryBlocks)) return best === 'parallel' ? 'serial' : 'parallel';
    return best;
  }

  /**
   * The mode choose() will give for the block after the one about to run, if that one runs in
   * the mode choose() gives now and costs what that mode has cost lately: the guess a lookahead
   * needs one block early (it also foresees the probes). A block that changes which mode is
   * cheaper makes the guess wrong, which costs the lookahead its use, never a result.
   */
  chooseNext(): ExecutionMode {
    const now = this.choose();
    const twin = new ModeChooser(this.options);
    Object.assign(twin.cost, this.cost);
    Object.assign(twin.samples, this.samples);
    twin.sinceProbe = this.sinceProbe;
    twin.probeInterval = this.probeInterval;
    twin.lastBest = this.lastBest;
    twin.warmupLeft = this.warmupLeft;
    const usual = this.cost[now] ?? this.cost[now === 'parallel' ? 'serial' : 'parallel'] ?? 1;
    twin.record(now, usual * 1e6, 1_000_000n, true);
    return twin.choose();
  }

  /**
   * A block that ran in `mode` took `wallMs` for `gas` gas (blocks with no gas teach nothing).
   * `chosen`: the block was eligible and this chooser picked its mode (else it was serial for
   * another reason, and only its cost is learned).
   */
  record(mode: ExecutionMode, wallMs: number, gas: bigint, chosen: boolean): void {
    if (gas <= 0n || !(wallMs >= 0)) return;
    const sample = wallMs / Number(gas);
    if (mode === 'parallel' && chosen && this.warmupLeft > 0) {
      this.warmupLeft--;
      this.cost.parallel = sample;
      return;
    }
    const bestBefore = this.best();
    const probe = chosen && bestBefore !== null && mode !== bestBefore;
    const before = this.cost[mode];
    this.cost[mode] = before === null || probe ? sample : before + this.options.smoothing * (sample - before);
    this.samples[mode]++;
    if (!chosen) return;
    const best = this.best();
    const early = this.samples.parallel < EARLY_SAMPLES || this.samples.serial < EARLY_SAMPLES;
    if (early || (best !== null && best !== this.lastBest)) this.probeInterval = 2;
    else if (probe) this.probeInterval = Math.min(this.probeInterval * 2, this.options.probeEveryBlocks);
    this.lastBest = best;
    this.sinceProbe = probe || best === null ? 0 : this.sinceProbe + 1;
  }

  private best(): ExecutionMode | null {
    const { parallel, serial } = this.cost;
    if (parallel === null || serial === null) return null;
    return parallel < serial * this.options.parallelAdvantage ? 'parallel' : 'serial';
  }

  /** Milliseconds per million gas, per mode (null = not measured yet): for reports and metrics. */
  costs(): Record<ExecutionMode, number | null> {
    const per = (v: number | null): number | null => (v === null ? null : v * 1e6);
    return { parallel: per(this.cost.parallel), serial: per(this.cost.serial) };
  }
}

// Parallel or serial, by what each has cost lately. Conflicts are not the only reason a block
// gains nothing from parallelism: a block of cheap txs (plain transfers, ≈ 100 µs of EVM each)
// spends as long on the bus hops, encoding and validation around its partitions as on the EVM,
// and a host whose cores do not scale gives the executors less than it promises. So the engine
// keeps, per mode, the wall time per unit of gas of the last `window` blocks it ran that way,
// runs eligible blocks in the mode whose best recent block was cheaper, and now and then runs one
// in the other mode to keep that mode's figure current.
//
// Why the best of the last few and not an average: a block's cost here moves by a third from one
// block to the next, and only one way (a busy host, a garbage collection, a cold JIT slow a block
// down; nothing speeds one up beyond what the mode allows). An average carried one slow block for
// several blocks: in a cluster run, a parallel figure still at 342 ms after a 283 ms block lost to
// a serial probe of 355 ms, and three 1,000-tx blocks ran serially at 381–451 ms between parallel
// ones at 226–283. The minimum ignores one slow block, takes a faster one at once, and follows a
// mode that really got dearer within `window` of its own blocks (it runs, so they come quickly).
//
// The first `warmupParallelBlocks` eligible blocks all run in parallel: executors JIT-compile the
// EVM over their first few thousand txs (a partition's CPU drops by 3-4× over its first 8
// blocks), while the scheduler's own serial path warms on every block, so a comparison made
// earlier judges cold executors and keeps them cold by not using them. Probes come every 2 blocks
// until each mode has EARLY_SAMPLES figures, then after 4, 8, up to probeEveryBlocks blocks while
// they confirm the choice, and again after 2 when the choice changes. A probe of a mode that costs
// far more than the chosen one wastes most of a block each time (parallel transfers at 10,000
// accounts took ≈ 2× a serial block here), so such probes back off further, until they take at
// most probeShare of the time, up to FAR_PROBE_FACTOR × probeEveryBlocks apart; and a mode that
// far off is confirmed by FAR_EARLY_SAMPLES figures, then probed at that distance at once rather
// than after doubling up to it (bench:engine's plain transfers at 10,000 accounts ran 5 of their
// 20 timed blocks in parallel while probes doubled 2, 4, 8, 16). The choice moves only time: any
// mode gives the same result.
export interface ModeChooserOptions {
  /** Samples kept per mode; a mode's figure is the cheapest of them. */
  window: number;
  /**
   * At most this many blocks in one mode before one block runs in the other to refresh its
   * figure, while the two modes cost about the same.
   */
  probeEveryBlocks: number;
  /**
   * When the other mode costs far more, probes of it come less often, so that what they cost
   * beyond the chosen mode stays within this share of the time (at most FAR_PROBE_FACTOR ×
   * probeEveryBlocks blocks apart).
   */
  probeShare: number;
  /** Parallel must be at least this much cheaper per gas to be chosen (hysteresis against noise). */
  parallelAdvantage: number;
  /** Eligible blocks run in parallel before any comparison, while executors warm up. */
  warmupParallelBlocks: number;
}

export const DEFAULT_MODE_CHOOSER_OPTIONS: ModeChooserOptions = {
  window: 3, probeEveryBlocks: 16, probeShare: 0.03, parallelAdvantage: 0.95, warmupParallelBlocks: 8,
};

export type ExecutionMode = 'parallel' | 'serial';

/** Figures per mode before probes back off. */
const EARLY_SAMPLES = 4;
/** Figures per mode before probes back off when the other mode costs far more (isFar). */
const FAR_EARLY_SAMPLES = 2;
/** Probes of a far dearer mode come at most this many times probeEveryBlocks apart. */
const FAR_PROBE_FACTOR = 4;

export class ModeChooser {
  /** Per mode, wall ms per gas of its last `window` blocks, oldest first. */
  private readonly recent: Record<ExecutionMode, number[]> = { parallel: [], serial: [] };
  private readonly samples: Record<ExecutionMode, number> = { parallel: 0, serial: 0 };
  private sinceProbe = 0;
  private probeInterval = 2;
  private lastBest: ExecutionMode | null = null;
  private warmupLeft: number;

  constructor(private readonly options: ModeChooserOptions = DEFAULT_MODE_CHOOSER_OPTIONS) {
    if (!(Number.isInteger(options.window) && options.window >= 1)) throw new Error(`ModeChooser: window must be an integer >= 1, got ${options.window}`);
    if (options.probeEveryBlocks < 1) throw new Error('ModeChooser: probeEveryBlocks must be >= 1');
    if (!(options.probeShare > 0 && options.probeShare <= 1)) throw new Error(`ModeChooser: probeShare must be in (0, 1], got ${options.probeShare}`);
    if (!(options.warmupParallelBlocks >= 0)) throw new Error('ModeChooser: warmupParallelBlocks must be >= 0');
    this.warmupLeft = options.warmupParallelBlocks;
  }

  /** The mode for a block that could run in parallel. Untried modes are tried first, parallel first. */
  choose(): ExecutionMode {
    if (this.warmupLeft > 0) return 'parallel';
    const best = this.best();
    if (best === null) return this.cost('parallel') === null ? 'parallel' : 'serial';
    if (this.sinceProbe >= this.probeInterval) return best === 'parallel' ? 'serial' : 'parallel';
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
    twin.recent.parallel = [...this.recent.parallel];
    twin.recent.serial = [...this.recent.serial];
    Object.assign(twin.samples, this.samples);
    twin.sinceProbe = this.sinceProbe;
    twin.probeInterval = this.probeInterval;
    twin.lastBest = this.lastBest;
    twin.warmupLeft = this.warmupLeft;
    const usual = this.cost(now) ?? this.cost(now === 'parallel' ? 'serial' : 'parallel') ?? 1;
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
      this.add(mode, sample);
      return;
    }
    const bestBefore = this.best();
    const probe = chosen && bestBefore !== null && mode !== bestBefore;
    this.add(mode, sample);
    this.samples[mode]++;
    if (!chosen) return;
    const best = this.best();
    const changed = best !== null && this.lastBest !== null && best !== this.lastBest;
    const far = best !== null && this.isFar(best);
    const early = this.samples.parallel < FAR_EARLY_SAMPLES || this.samples.serial < FAR_EARLY_SAMPLES
      || (!far && (this.samples.parallel < EARLY_SAMPLES || this.samples.serial < EARLY_SAMPLES));
    if (early || (best !== null && best !== this.lastBest)) this.probeInterval = 2;
    else if (far) this.probeInterval = this.probeCap(best === 'parallel' ? 'serial' : 'parallel', best);
    else if (probe && best !== null) this.probeInterval = Math.min(this.probeInterval * 2, this.probeCap(mode, best));
    this.lastBest = best;
    // A change of choice starts its count afresh: the next block runs the new choice, not a probe of the old one.
    this.sinceProbe = probe || best === null || changed ? 0 : this.sinceProbe + 1;
  }

  /** The other mode costs so much more than `best` that its probes back off past probeEveryBlocks. */
  private isFar(best: ExecutionMode): boolean {
    return this.probeCap(best === 'parallel' ? 'serial' : 'parallel', best) > this.options.probeEveryBlocks;
  }

  /**
   * How far apart probes of `probed` may come while `best` is chosen: probeEveryBlocks, or more
   * when each probe costs much more than a block of `best` (its excess over probeShare blocks).
   */
  private probeCap(probed: ExecutionMode, best: ExecutionMode): number {
    const { probeEveryBlocks, probeShare } = this.options;
    const excess = this.cost(probed)! / this.cost(best)! - 1;
    if (!(excess > 0)) return probeEveryBlocks;
    return Math.min(FAR_PROBE_FACTOR * probeEveryBlocks, Math.max(probeEveryBlocks, Math.ceil(excess / probeShare)));
  }

  private add(mode: ExecutionMode, sample: number): void {
    const recent = this.recent[mode];
    recent.push(sample);
    if (recent.length > this.options.window) recent.shift();
  }

  /** A mode's figure: the cheapest of its recent blocks (null = none yet). */
  private cost(mode: ExecutionMode): number | null {
    const recent = this.recent[mode];
    return recent.length === 0 ? null : Math.min(...recent);
  }

  private best(): ExecutionMode | null {
    const parallel = this.cost('parallel');
    const serial = this.cost('serial');
    if (parallel === null || serial === null) return null;
    return parallel < serial * this.options.parallelAdvantage ? 'parallel' : 'serial';
  }

  /** Milliseconds per million gas, per mode (null = not measured yet): for reports and metrics. */
  costs(): Record<ExecutionMode, number | null> {
    const per = (v: number | null): number | null => (v === null ? null : v * 1e6);
    return { parallel: per(this.cost('parallel')), serial: per(this.cost('serial')) };
  }
}

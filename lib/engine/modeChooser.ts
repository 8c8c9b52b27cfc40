// Parallel or serial, by what each has cost lately. Conflicts are not the only reason a block
// gains nothing from parallelism: a block of cheap txs (plain transfers, ≈ 100 µs of EVM each)
// spends as long on the bus hops, encoding and validation around its partitions as on the EVM,
// and a host whose cores do not scale gives the executors less than it promises. So the engine
// runs eligible blocks in the mode that has been cheaper per unit of gas, and now and then runs
// one in the other mode to keep the comparison current.
//
// The comparison is paired: each time two chosen blocks in a row ran in different modes, their
// costs per gas make one ratio (parallel over serial), and the engine follows the median of the
// last `window` ratios. A block's cost here moves by a third from one block to the next, and the
// host's speed drifts over tens of seconds; two adjacent blocks see the same host, two blocks far
// apart do not. The chooser before this one compared each mode's cheapest recent block, which
// compared unequal things: the chosen mode's figure came from recent blocks, the other's from a
// few probes spread over a minute, so whichever mode ran while the host was slow lost (at 10,000
// ERC-20 accounts it ran 1 of 6 timed blocks in parallel where forcing every block parallel gave
// 1.24× the serial baseline). A probe between two blocks of the chosen mode gives two pairs, so a
// median over a window of 5 needs about three probes to move, and one slow block (a garbage
// collection, a busy neighbour) moves it by one rank at most. Each mode's cheapest recent block is
// still kept, for reports and as the comparison until the first pair exists.
//
// The first `warmupParallelBlocks` eligible blocks all run in parallel: executors fill their caches
// and grow their heaps over their first blocks (at 10,000 accounts, 1,600–3,700 page faults per
// block each over the first ~11 blocks, then a few hundred at most), while the scheduler's own
// serial path warms on every block, so a comparison made earlier judges cold executors and keeps
// them cold by not using them. Probes come every 2 blocks until each mode has EARLY_SAMPLES
// figures, then after 4, 8, up to probeEveryBlocks blocks while they confirm the choice, and
// again after 2 when the choice changes. A probe of a mode that costs far more than the chosen one
// wastes most of a block each time (parallel transfers at 10,000 accounts took ≈ 2× a serial
// block here), so such probes back off further, until they take at most probeShare of the time,
// up to FAR_PROBE_FACTOR × probeEveryBlocks apart; and a mode that far off is confirmed by
// FAR_EARLY_SAMPLES figures, then probed at that distance at once rather than after doubling up
// to it. The choice moves only time: any mode gives the same result.
export interface ModeChooserOptions {
  /**
   * Adjacent pairs kept (the choice follows their median ratio), and samples kept per mode (a
   * mode's figure is the cheapest of them).
   */
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
  /** Parallel must be at least this much cheaper per gas (the pairs' median ratio) to be chosen. */
  parallelAdvantage: number;
  /** Eligible blocks run in parallel before any comparison, while executors warm up. */
  warmupParallelBlocks: number;
}

export const DEFAULT_MODE_CHOOSER_OPTIONS: ModeChooserOptions = {
  window: 5, probeEveryBlocks: 16, probeShare: 0.03, parallelAdvantage: 0.95, warmupParallelBlocks: 8,
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
  /** Cost per gas of parallel over serial, of adjacent chosen blocks that ran in different modes, oldest first. */
  private pairs: number[] = [];
  /** The last block this chooser picked the mode of (or a warm-up block): the next one in the other mode pairs with it. */
  private lastChosen: { mode: ExecutionMode; sample: number } | null = null;
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
    const best = this.preferred();
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
    twin.pairs = [...this.pairs];
    twin.lastChosen = this.lastChosen;
    Object.assign(twin.samples, this.samples);
    twin.sinceProbe = this.sinceProbe;
    twin.probeInterval = this.probeInterval;
    twin.lastBest = this.lastBest;
    twin.warmupLeft = this.warmupLeft;
    // A block that pairs is guessed at the pairs' median ratio, which leaves the median where it is.
    const last = this.lastChosen;
    const ratio = this.ratio();
    const usual = last !== null && last.mode !== now && ratio !== null
      ? (now === 'parallel' ? last.sample * ratio : last.sample / ratio)
      : this.cost(now) ?? this.cost(now === 'parallel' ? 'serial' : 'parallel') ?? 1;
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
      this.lastChosen = { mode, sample };
      return;
    }
    const bestBefore = this.preferred();
    const probe = chosen && bestBefore !== null && mode !== bestBefore;
    this.add(mode, sample);
    this.samples[mode]++;
    if (!chosen) return;
    const last = this.lastChosen;
    if (last !== null && last.mode !== mode) {
      this.pairs.push(mode === 'parallel' ? sample / last.sample : last.sample / sample);
      if (this.pairs.length > this.options.window) this.pairs.shift();
    }
    this.lastChosen = { mode, sample };
    const best = this.preferred();
    const changed = best !== null && this.lastBest !== null && best !== this.lastBest;
    const far = best !== null && this.isFar(best);
    const early = this.early(far);
    if (early || (best !== null && best !== this.lastBest)) this.probeInterval = 2;
    else if (far) this.probeInterval = this.probeCap(best === 'parallel' ? 'serial' : 'parallel', best);
    else if (probe && best !== null) this.probeInterval = Math.min(this.probeInterval * 2, this.probeCap(mode, best));
    this.lastBest = best;
    // A change of choice starts its count afresh: the next block runs the new choice, not a probe of the old one.
    this.sinceProbe = probe || best === null || changed ? 0 : this.sinceProbe + 1;
  }

  /**
   * The start-up comparison is over: the warm-up blocks have run, each mode has its early figures,
   * and probes have backed off to their steady distance (probeEveryBlocks, or more when far).
   */
  get settled(): boolean {
    const best = this.preferred();
    return this.warmupLeft === 0 && best !== null && !this.early(this.isFar(best)) && this.probeInterval >= this.options.probeEveryBlocks;
  }

  /** Too few figures per mode yet to back probes off (fewer are needed when the other mode is far dearer). */
  private early(far: boolean): boolean {
    return this.samples.parallel < FAR_EARLY_SAMPLES || this.samples.serial < FAR_EARLY_SAMPLES
      || (!far && (this.samples.parallel < EARLY_SAMPLES || this.samples.serial < EARLY_SAMPLES));
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
    const ratio = this.ratio();
    const excess = (ratio === null ? this.cost(probed)! / this.cost(best)! : probed === 'parallel' ? ratio : 1 / ratio) - 1;
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

  /**
   * The mode the comparison prefers (null = a mode untried): by the pairs' median ratio, or
   * before the first pair by each mode's cheapest recent block.
   */
  preferred(): ExecutionMode | null {
    const parallel = this.cost('parallel');
    const serial = this.cost('serial');
    if (parallel === null || serial === null) return null;
    const ratio = this.ratio() ?? parallel / serial;
    return ratio < this.options.parallelAdvantage ? 'parallel' : 'serial';
  }

  /** Median cost per gas of parallel over serial, of the recent adjacent pairs (null = none yet). */
  ratio(): number | null {
    const n = this.pairs.length;
    if (n === 0) return null;
    const sorted = [...this.pairs].sort((a, b) => a - b);
    return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  }

  /** Milliseconds per million gas, per mode (null = not measured yet): for reports and metrics. */
  costs(): Record<ExecutionMode, number | null> {
    const per = (v: number | null): number | null => (v === null ? null : v * 1e6);
    return { parallel: per(this.cost('parallel')), serial: per(this.cost('serial')) };
  }
}

/**
 * Eligible blocks a chooser takes to settle (ModeChooser.settled) when every parallel block costs
 * `ratio` of a serial one: its warm-up, probes every 2 blocks until each mode has its early
 * figures, then probes backing off 4, 8, … blocks apart. A benchmark that means to time the steady
 * state warms up at least this long: during these blocks a few in every ten run in the mode that
 * is not chosen, where a settled chooser probes one in probeEveryBlocks + 1.
 */
export function blocksToSettle(options: ModeChooserOptions = DEFAULT_MODE_CHOOSER_OPTIONS, ratio = 0.75): number {
  const chooser = new ModeChooser(options);
  for (let blocks = 0; blocks < 10_000; blocks++) {
    if (chooser.settled) return blocks;
    const mode = chooser.choose();
    chooser.record(mode, mode === 'parallel' ? ratio : 1, 1n, true);
  }
  throw new Error(`ModeChooser: no settling within 10,000 blocks at ratio ${ratio}`);
}

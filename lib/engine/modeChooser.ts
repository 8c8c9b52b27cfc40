// Parallel or serial, by what each has cost lately. Conflicts are not the only reason a block
// gains nothing from parallelism: a block of cheap txs (plain transfers, ≈ 100 µs of EVM each)
// spends as long on the bus hops, encoding and validation around its partitions as on the EVM,
// and a host whose cores do not scale gives the executors less than it promises. So the engine
// keeps, per mode, a moving average of wall time per unit of gas of the blocks it ran that way,
// runs eligible blocks in the cheaper mode, and now and then runs one in the other mode to keep
// that mode's figure current. The choice moves only time: any mode gives the same result.
export interface ModeChooserOptions {
  /** Weight of the newest sample in the moving averages (0..1]. */
  smoothing: number;
  /** After this many blocks in one mode, one block runs in the other to refresh its figure. */
  probeEveryBlocks: number;
  /** Parallel must be at least this much cheaper per gas to be chosen (hysteresis against noise). */
  parallelAdvantage: number;
}

export const DEFAULT_MODE_CHOOSER_OPTIONS: ModeChooserOptions = { smoothing: 0.3, probeEveryBlocks: 16, parallelAdvantage: 0.95 };

export type ExecutionMode = 'parallel' | 'serial';

export class ModeChooser {
  private readonly cost: Record<ExecutionMode, number | null> = { parallel: null, serial: null };
  private sinceProbe = 0;

  constructor(private readonly options: ModeChooserOptions = DEFAULT_MODE_CHOOSER_OPTIONS) {
    if (!(options.smoothing > 0 && options.smoothing <= 1)) throw new Error(`ModeChooser: smoothing must be in (0, 1], got ${options.smoothing}`);
    if (options.probeEveryBlocks < 1) throw new Error('ModeChooser: probeEveryBlocks must be >= 1');
  }

  /** The mode for a block that could run in parallel. Untried modes are tried first, parallel first. */
  choose(): ExecutionMode {
    const { parallel, serial } = this.cost;
    if (parallel === null) return 'parallel';
    if (serial === null) return 'serial';
    const best: ExecutionMode = parallel < serial * this.options.parallelAdvantage ? 'parallel' : 'serial';
    if (this.sinceProbe >= this.options.probeEveryBlocks) return best === 'parallel' ? 'serial' : 'parallel';
    return best;
  }

  /** A block that ran in `mode` took `wallMs` for `gas` gas (blocks with no gas teach nothing). */
  record(mode: ExecutionMode, wallMs: number, gas: bigint, chosen: boolean): void {
    if (gas <= 0n || !(wallMs >= 0)) return;
    const sample = wallMs / Number(gas);
    const before = this.cost[mode];
    this.cost[mode] = before === null ? sample : before + this.options.smoothing * (sample - before);
    if (!chosen) return;
    // A probe (the mode that is not the best) resets the count; so does a change of mind.
    const { parallel, serial } = this.cost;
    const best: ExecutionMode | null = parallel === null || serial === null ? null : parallel < serial * this.options.parallelAdvantage ? 'parallel' : 'serial';
    this.sinceProbe = best === null || mode !== best ? 0 : this.sinceProbe + 1;
  }

  /** Milliseconds per million gas, per mode (null = not measured yet): for reports and metrics. */
  costs(): Record<ExecutionMode, number | null> {
    const per = (v: number | null): number | null => (v === null ? null : v * 1e6);
    return { parallel: per(this.cost.parallel), serial: per(this.cost.serial) };
  }
}

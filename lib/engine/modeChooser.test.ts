import { describe, expect, it } from 'vitest';
import { ModeChooser } from './modeChooser.js';

const GAS = 10_000_000n;

describe('ModeChooser', () => {
  it('tries parallel, then serial, then keeps the cheaper one and probes the other now and then', () => {
    const modes = new ModeChooser({ smoothing: 1, probeEveryBlocks: 3, parallelAdvantage: 0.95 });
    expect(modes.choose()).toBe('parallel');
    modes.record('parallel', 150, GAS, true); // cheap txs: parallel costs more than serial
    expect(modes.choose()).toBe('serial');
    modes.record('serial', 100, GAS, true);
    const chosen: string[] = [];
    for (let b = 0; b < 8; b++) {
      const mode = modes.choose();
      chosen.push(mode);
      modes.record(mode, mode === 'serial' ? 100 : 150, GAS, true);
    }
    // The first serial block counts as one of the three before a probe.
    expect(chosen).toEqual(['serial', 'serial', 'parallel', 'serial', 'serial', 'serial', 'parallel', 'serial']);
    expect(modes.costs()).toEqual({ parallel: 15, serial: 10 });
  });

  it('switches to parallel once it is clearly cheaper, and not for a tie', () => {
    const modes = new ModeChooser({ smoothing: 1, probeEveryBlocks: 100, parallelAdvantage: 0.95 });
    modes.record('parallel', 98, GAS, true);
    modes.record('serial', 100, GAS, true);
    expect(modes.choose()).toBe('serial'); // within the 5 % hysteresis
    modes.record('parallel', 70, GAS, true);
    expect(modes.choose()).toBe('parallel');
  });

  it('learns serial cost from blocks that were serial for other reasons, without counting them as probes', () => {
    const modes = new ModeChooser({ smoothing: 0.5, probeEveryBlocks: 2, parallelAdvantage: 0.95 });
    modes.record('parallel', 50, GAS, true);
    modes.record('serial', 100, GAS, false);
    modes.record('serial', 100, 0n, false); // an empty block teaches nothing
    expect(modes.choose()).toBe('parallel');
    expect(modes.costs().serial).toBe(10);
  });
});

import { describe, expect, it } from 'vitest';
import { blocksToSettle, DEFAULT_MODE_CHOOSER_OPTIONS, ModeChooser } from './modeChooser.js';

const GAS = 10_000_000n;

/**
 * The blocks a chooser runs in parallel over `blocks` blocks when a serial block costs 100 ms and a
 * parallel one `parallelMs` (window 3, no warm-up).
 */
function parallelBlocks(probes: { probeEveryBlocks: number; probeShare: number }, parallelMs: number, blocks: number): number[] {
  const modes = new ModeChooser({ window: 3, parallelAdvantage: 0.95, warmupParallelBlocks: 0, ...probes });
  const out: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const mode = modes.choose();
    if (mode === 'parallel') out.push(b);
    modes.record(mode, mode === 'serial' ? 100 : parallelMs, GAS, true);
  }
  return out;
}

const FAR = { probeEveryBlocks: 16, probeShare: 0.03 };

describe('ModeChooser', () => {
  it('tries parallel, then serial, then keeps the cheaper one and probes the other, less often once both are known', () => {
    const modes = new ModeChooser({ window: 1, probeEveryBlocks: 8, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 0 });
    expect(modes.choose()).toBe('parallel');
    modes.record('parallel', 150, GAS, true); // cheap txs: parallel costs more than serial
    expect(modes.choose()).toBe('serial');
    modes.record('serial', 100, GAS, true);
    const chosen: string[] = [];
    for (let b = 0; b < 14; b++) {
      const mode = modes.choose();
      chosen.push(mode[0]!);
      modes.record(mode, mode === 'serial' ? 100 : 150, GAS, true);
    }
    // Every 2 blocks until parallel has 4 figures, then after 4, then 8 (the cap).
    expect(chosen.join('')).toBe('spsspssp' + 'ssssps');
    expect(modes.costs()).toEqual({ parallel: 15, serial: 10 });
  });

  it('probes a mode that costs far more than the chosen one less often, so probes stay a small share of the time', () => {
    const gaps = (parallelMs: number): number[] => {
      const probes = parallelBlocks({ probeEveryBlocks: 8, probeShare: 0.05 }, parallelMs, 400);
      return probes.slice(1).map((p, i) => p - probes[i]!);
    };
    // Parallel at 1.1× serial: probes every 8 blocks (+1 for the probe itself) once backed off.
    expect(gaps(110).slice(-5)).toEqual([9, 9, 9, 9, 9]);
    // At 2.2×, each probe wastes 1.2 blocks: 1.2 / 0.05 = 24 blocks apart.
    expect(gaps(220).slice(-5)).toEqual([25, 25, 25, 25, 25]);
    // At 5×: capped at 4 × probeEveryBlocks.
    expect(gaps(500).slice(-5)).toEqual([33, 33, 33, 33, 33]);
  });

  it('confirms a far dearer mode twice, then probes it only as far apart as its cost allows, not after doubling up to that', () => {
    // 2× serial: each probe wastes a block, so probes come ceil(1 / 0.03) = 34 blocks apart once
    // two figures of each mode agree (doubling 2, 4, 8, 16 first ran it at 6, 9, 14, 23 too).
    expect(parallelBlocks(FAR, 200, 100)).toEqual([0, 3, 38, 73]);
    // 1.3×: not far (0.3 / 0.03 = 10 blocks ≤ probeEveryBlocks): 4 figures each, then doubling to 16.
    expect(parallelBlocks(FAR, 130, 100)).toEqual([0, 3, 6, 9, 14, 23, 40, 57, 74, 91]);
  });

  it('settles once probes have backed off to their steady distance, and from then on probes one block in probeEveryBlocks + 1', () => {
    for (const ratio of [0.5, 0.75, 1.2, 2]) {
      const settle = blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, ratio);
      const modes = new ModeChooser(DEFAULT_MODE_CHOOSER_OPTIONS);
      const chosen: string[] = [];
      for (let b = 0; b < settle + 4 * 17; b++) {
        expect(modes.settled).toBe(b >= settle);
        const mode = modes.choose();
        chosen.push(mode[0]!);
        modes.record(mode, mode === 'parallel' ? ratio : 1, GAS, true);
      }
      const best = ratio < 1 ? 'p' : 's';
      const before = chosen.slice(0, settle).filter((m, b) => b >= DEFAULT_MODE_CHOOSER_OPTIONS.warmupParallelBlocks && m !== best).length;
      const after = chosen.slice(settle).filter((m) => m !== best).length;
      expect(before).toBeGreaterThanOrEqual(2); // the start-up comparison probes often
      expect(after).toBeLessThanOrEqual(4); // 68 blocks: at most one probe per 17
    }
    // Parallel worth having but not far cheaper: the early figures and the doubling take longest.
    expect(blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 0.75)).toBe(31);
    expect(blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 1.2)).toBe(34);
  });

  it('outvotes a cold first pair with the pairs after it', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 0 });
    modes.record('parallel', 300, GAS, true); // first parallel block: cold caches
    modes.record('serial', 100, GAS, true); // the pair says parallel costs 3×
    modes.record(modes.choose(), 100, GAS, true);
    expect(modes.choose()).toBe('parallel'); // the probe after 2 blocks
    modes.record('parallel', 60, GAS, true); // 0.6×: one warm pair against one cold one
    expect(modes.choose()).toBe('serial');
    modes.record('serial', 100, GAS, true); // the probe's second pair
    expect(modes.ratio()).toBeCloseTo(0.6);
    expect(modes.choose()).toBe('parallel');
    expect(modes.costs().parallel).toBe(6);
  });

  it('compares adjacent blocks, so a host that slows down or speeds up does not decide for it', () => {
    // Every block's cost is the host's speed × its mode's cost × up to ±10 % of its own (a fixed
    // pseudo-random sequence). Comparing each mode's cheapest recent block, a probe that ran on a
    // slower host than the chosen mode's window lost, and the chooser left the cheaper mode for
    // blocks at a time (with the last chooser: "ss" runs while the host slowed from 1× to 3×).
    const hosts: Record<string, (b: number) => number> = {
      rising: (b) => 1 + b / 60,
      steps: (b) => (Math.floor(b / 10) % 2 === 0 ? 1 : 1.6),
      wave: (b) => 1.5 + 0.5 * Math.sin((b / 20) * Math.PI),
    };
    for (const [name, host] of Object.entries(hosts)) {
      for (const [parallelShare, chosen] of [[0.8, 'p'], [1.25, 's']] as const) {
        const modes = new ModeChooser({ window: 5, probeEveryBlocks: 16, probeShare: 0.03, parallelAdvantage: 0.95, warmupParallelBlocks: 4 });
        let seed = 7;
        const noise = (): number => {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          return 0.9 + 0.2 * (seed / 2147483648);
        };
        let ran = '';
        for (let b = 0; b < 120; b++) {
          const mode = modes.choose();
          ran += mode[0];
          modes.record(mode, 100 * host(b) * noise() * (mode === 'parallel' ? parallelShare : 1), GAS, true);
        }
        // Past the early comparisons, the other mode runs only as single probes.
        const other = chosen === 'p' ? 's' : 'p';
        expect(ran.slice(20).includes(other + other), `${name}, parallel at ${parallelShare}× serial: ${ran}`).toBe(false);
        expect([...ran.slice(20)].filter((m) => m === chosen).length, `${name}: ${ran}`).toBeGreaterThan(90);
      }
    }
  });

  it('keeps the mode whose recent blocks were cheaper when one block of it runs slow', () => {
    // A cluster run's blocks 11-17 (1,000 ERC-20 txs each, ms): an average still carrying the
    // warm-up's 484 ms lost to the 355 ms serial probe after parallel blocks of 368 and 283 ms,
    // and the next blocks ran serially at 381-451 ms.
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 1 });
    const history: Array<['parallel' | 'serial', number]> = [
      ['parallel', 484], ['serial', 1125], ['parallel', 472], ['serial', 537], ['parallel', 368], ['parallel', 283], ['serial', 355],
    ];
    for (const [mode, ms] of history) modes.record(mode, ms, GAS, true);
    expect(modes.choose()).toBe('parallel');
    modes.record('parallel', 520, GAS, true); // one slow block: the host was busy
    expect(modes.choose()).toBe('parallel');
  });

  it('leaves a mode that really got dearer once its pairs say so', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 0 });
    modes.record('parallel', 100, GAS, true);
    modes.record('serial', 150, GAS, true);
    const ran: string[] = [];
    for (let b = 0; b < 6; b++) {
      const mode = modes.choose();
      ran.push(mode[0]!);
      modes.record(mode, mode === 'parallel' ? 200 : 150, GAS, true); // parallel now costs 200
    }
    // The first dear parallel block makes a pair of 1.33× against 0.67× before it: a median of
    // 1.0, not cheaper by 5 %, so serial; the probe after 2 blocks confirms it.
    expect(ran.join('')).toBe('psspss');
    expect(modes.ratio()).toBeCloseTo(200 / 150);
  });

  it('switches to parallel once it is clearly cheaper, and not for a tie', () => {
    const modes = new ModeChooser({ window: 1, probeEveryBlocks: 100, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 0 });
    modes.record('parallel', 98, GAS, true);
    modes.record('serial', 100, GAS, true);
    expect(modes.choose()).toBe('serial'); // within the 5 % hysteresis
    modes.record('parallel', 70, GAS, true);
    expect(modes.choose()).toBe('parallel');
  });

  it('runs the first eligible blocks in parallel while executors warm up, then compares with the warmest figure', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 3 });
    modes.record('serial', 100, GAS, false); // a small block, serial for its size: its cost is known
    const warming = [400, 250, 80]; // executors JIT-compile over their first blocks
    for (const ms of warming) {
      expect(modes.choose()).toBe('parallel');
      modes.record('parallel', ms, GAS, true);
    }
    expect(modes.costs().parallel).toBe(8); // the last figure, not an average dragged by cold blocks
    expect(modes.choose()).toBe('parallel');
  });

  it('leaves parallel after its warm-up when serial is cheaper', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 2 });
    modes.record('parallel', 150, GAS, true);
    modes.record('parallel', 150, GAS, true);
    expect(modes.choose()).toBe('serial'); // serial untried: tried now
    modes.record('serial', 100, GAS, true);
    expect(modes.choose()).toBe('serial');
  });

  it('learns serial cost from blocks that were serial for other reasons, without counting them as probes', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 2, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 0 });
    modes.record('parallel', 50, GAS, true);
    modes.record('serial', 100, GAS, false);
    modes.record('serial', 100, 0n, false); // an empty block teaches nothing
    expect(modes.choose()).toBe('parallel');
    expect(modes.costs().serial).toBe(10);
  });

  it('foresees the next block\'s mode, probes included, unless that block changes which mode is cheaper', () => {
    const modes = new ModeChooser({ window: 3, probeEveryBlocks: 16, probeShare: 1, parallelAdvantage: 0.95, warmupParallelBlocks: 3 });
    const cheaper = (): string | null => modes.preferred();
    let checked = 0;
    const ran = new Set<string>();
    for (const [parallelMs, serialMs] of [[150, 100], [60, 100], [150, 100]] as const) {
      for (let b = 0; b < 60; b++) {
        const guess = modes.chooseNext();
        const mode = modes.choose();
        const before = cheaper();
        modes.record(mode, mode === 'parallel' ? parallelMs : serialMs, GAS, true);
        ran.add(mode);
        if (before === null || cheaper() !== before) continue;
        expect(modes.choose(), `block ${b} at ${parallelMs}/${serialMs} ms`).toBe(guess);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
    expect(ran).toEqual(new Set(['parallel', 'serial']));
  });

});

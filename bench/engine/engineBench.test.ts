// Smoke run of `npm run bench:engine` on one tiny cell: real executor processes, the serial
// baseline interleaved, and the JSON rows the issue names. Speed is not asserted (bench/ numbers
// are read, not tested); equal state roots are, since the bench stops on a difference.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentThreadId, threadCpus } from '../threadAffinity.js';
import { blocksToSettle, DEFAULT_MODE_CHOOSER_OPTIONS } from '../../lib/engine/index.js';
import { defaultWarmupBlocks, main, type EngineBenchRow } from './engineBench.js';

describe('bench:engine', () => {
  it('writes one row per cell with the fields the issue asks for', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-engine-smoke-'));
    const json = path.join(out, 'rows.json');
    const cpusBefore = threadCpus(currentThreadId());
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write; // the table is for people
    try {
      const code = await main(['--workload', 'erc20', '--accounts', '2000', '--executors', '2', '--txs', '128', '--block', '64', '--warmup', '2', '--repeat', '2', '--json', json, '--out', out, '--skip-ceiling', '--pin-cpu', '0']);
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const rows = JSON.parse(fs.readFileSync(json, 'utf8')) as EngineBenchRow[];
    // Each run pinned this thread and the baseline's to CPU 0, and put them back.
    expect(threadCpus(currentThreadId())).toBe(cpusBefore);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ workload: 'erc20', accounts: 2000, executors: 2, txs: 128, warmupBlocks: 2, machineCeiling: null, rootsMatch: true });
    for (const field of ['tps', 'serialTps', 'speedup', 'blockSpeedupMedian', 'reexecutions'] as const) expect(Number.isFinite(row[field]), field).toBe(true);
    expect(row.speedup).toBeCloseTo(row.tps / row.serialTps, 6);
    // Two runs on fresh clusters; the row is the one whose speed-up is the lower middle (here the lower).
    expect(row.speedupRuns).toHaveLength(2);
    expect(row.speedup).toBe(Math.min(...row.speedupRuns));
    expect(row.parallelBlocks + row.serialBlocks).toBe(2);
    expect(fs.existsSync(path.join(out, 'engine-speedup.svg'))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  }, 120_000);

  it('warms up until the mode chooser has settled, whether parallel pays or not; longer for more accounts, but not past 20 blocks for them', () => {
    const settle = Math.max(blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 0.75), blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 1.2));
    expect(settle).toBeGreaterThan(DEFAULT_MODE_CHOOSER_OPTIONS.warmupParallelBlocks);
    expect(defaultWarmupBlocks(2, 500)).toBe(settle);
    expect(defaultWarmupBlocks(10_000, 500)).toBe(Math.max(settle, 20));
    expect(defaultWarmupBlocks(1_000_000, 500)).toBe(Math.max(settle, 20));
    expect(defaultWarmupBlocks(1_000_000, 10)).toBe(Math.max(settle, 20));
  });
});

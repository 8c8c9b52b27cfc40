// The pair tool runs the scheduler's serial path and the baseline over the same blocks, on
// threads of their own or with the engine's on the calling thread, and they reach the same state;
// with --aa, the baseline runs on both sides.
import { describe, expect, it } from 'vitest';
import { currentThreadId, threadCpus } from '../threadAffinity.js';
import { runPair } from './serialPair.js';

describe('serial pair', () => {
  it.each(['worker', 'main'] as const)('engine on the %s thread: same state root as the baseline, timed blocks only', async (engineThread) => {
    const run = await runPair({ workload: 'erc20', accounts: 20, blocks: 4, warmup: 1, blockTxs: 16, engineThread, seed: 'serial-pair-test', pinCpu: 0, aa: false });
    expect(run.rootsMatch).toBe(true);
    expect(run.speedup).toBeGreaterThan(0);
    expect(run.blockMedian).toBeGreaterThan(0);
    expect(run.engineMicrosPerTx).toBeGreaterThan(0);
    expect(run.baselineMicrosPerTx).toBeGreaterThan(0);
  }, 60_000);

  it('A/A: the baseline on both sides, both on one CPU, and the calling thread\'s CPUs put back after', async () => {
    const before = threadCpus(currentThreadId());
    const run = await runPair({ workload: 'transfer', accounts: 8, blocks: 3, warmup: 1, blockTxs: 16, engineThread: 'main', seed: 'serial-pair-aa', pinCpu: 0, aa: true });
    expect(run.rootsMatch).toBe(true);
    expect(run.speedup).toBeGreaterThan(0);
    expect(threadCpus(currentThreadId())).toBe(before);
  }, 60_000);

  it('refuses a warm-up that leaves no timed block', async () => {
    await expect(runPair({ workload: 'transfer', accounts: 4, blocks: 2, warmup: 2, blockTxs: 8, engineThread: 'worker', seed: 'x', pinCpu: null, aa: false })).rejects.toThrow('--warmup (2) must be below --blocks (2)');
  });
});

// The pair tool runs the scheduler's serial path and the baseline over the same blocks, on
// threads of their own or with the engine's on the calling thread, and they reach the same state.
import { describe, expect, it } from 'vitest';
import { runPair } from './serialPair.js';

describe('serial pair', () => {
  it.each(['worker', 'main'] as const)('engine on the %s thread: same state root as the baseline, timed blocks only', async (engineThread) => {
    const run = await runPair({ workload: 'erc20', accounts: 20, blocks: 4, warmup: 1, blockTxs: 16, engineThread, seed: 'serial-pair-test' });
    expect(run.rootsMatch).toBe(true);
    expect(run.speedup).toBeGreaterThan(0);
    expect(run.blockMedian).toBeGreaterThan(0);
    expect(run.engineMicrosPerTx).toBeGreaterThan(0);
    expect(run.baselineMicrosPerTx).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a warm-up that leaves no timed block', async () => {
    await expect(runPair({ workload: 'transfer', accounts: 4, blocks: 2, warmup: 2, blockTxs: 8, engineThread: 'worker', seed: 'x' })).rejects.toThrow('--warmup (2) must be below --blocks (2)');
  });
});

// The parallel side `bench:instructions --parallel` counts must be the engine's parallel path,
// and must compute what the baseline computes: otherwise its count would be of something else.
import { describe, expect, it } from 'vitest';
import { genesisStateEntries } from '../../lib/chain/genesis.js';
import { generateWorkload } from '../../lib/workloads/index.js';
import { EngineParallelSide } from './engineParallelSide.js';
import { SerialBaseline } from './serialBaseline.js';

describe('the engine\'s parallel side in one process', () => {
  it('runs every block in parallel, through its executor and its own slot, and reaches the baseline\'s state root', async () => {
    const w = await generateWorkload({ workload: 'erc20', accounts: 400, hotShare: 0, chainId: 31337n, seed: 'parallel-side', txCount: 4 * 64 });
    const txs = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
    const blocks = Array.from({ length: 4 }, (_, b) => txs.slice(b * 64, (b + 1) * 64));
    const side = await EngineParallelSide.create(w.genesis, blocks);
    const baseline = await SerialBaseline.create(w.genesis, genesisStateEntries(w.genesis));
    for (let b = 0; b < blocks.length; b++) {
      expect((await side.runBlock(b)).parallel).toBe(true);
      await baseline.runBlock(BigInt(b + 1), blocks[b]!, false);
    }
    expect(side.root().toString('hex')).toBe(baseline.root().toString('hex'));
    // Both slots ran txs: the executor's answers crossed its wire format.
    expect(side.executorTxs).toBeGreaterThan(0);
    expect(side.executorTxs).toBeLessThan(4 * 64);
  }, 60_000);
});

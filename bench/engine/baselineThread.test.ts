// The serial baseline on a thread of its own runs the same blocks to the same state as on the
// calling thread, reports its own GC pauses, and fails a request with a clear error.
import { describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, genesisToJson } from '../../lib/chain/genesis.js';
import { generateWorkload } from '../../lib/workloads/index.js';
import { generateOffThread, ownHeapBaseline, sharedHeapBaseline } from './baselineThread.js';

describe('serial baseline thread', () => {
  it('runs blocks on its own heap to the state the calling thread reaches', async () => {
    const w = await generateWorkload({ workload: 'erc20', accounts: 40, hotShare: 0, chainId: 31337n, seed: 'baseline-thread', txCount: 96 });
    const txs: Tx[] = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
    const blocks = [txs.slice(0, 32), txs.slice(32, 64), txs.slice(64)];
    const own = await ownHeapBaseline(w.genesis, blocks);
    const shared = await sharedHeapBaseline(w.genesis, genesisStateEntries(w.genesis), blocks);
    try {
      for (let b = 0; b < blocks.length; b++) {
        const mine = await own.runBlock(b, b > 0);
        expect(mine.seconds).toBeGreaterThan(0);
        expect(mine.gcMs).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN((await shared.runBlock(b, b > 0)).gcMs)).toBe(true); // its pauses are the caller's to count
      }
      const [a, b] = [await own.totals(), await shared.totals()];
      expect(a.txs).toBe(64); // the timed blocks only
      expect(b.txs).toBe(64);
      expect(Buffer.isBuffer(a.root)).toBe(true);
      expect(a.root.equals(b.root)).toBe(true);
      await expect(own.runBlock(blocks.length, true)).rejects.toThrow('serial baseline: no block 3 (3 blocks)');
    } finally {
      await own.stop();
      await shared.stop();
    }
    await expect(own.runBlock(0, false)).rejects.toThrow('serial baseline thread stopped');
  }, 60_000);

  it('generates on its own thread the workload the calling thread generates', async () => {
    const options = { workload: 'amm' as const, accounts: 30, hotShare: 0, chainId: 31337n, seed: 'generate-thread', txCount: 40 };
    const [there, here] = await Promise.all([generateOffThread(options), generateWorkload(options)]);
    expect(genesisToJson(there.genesis)).toEqual(genesisToJson(here.genesis));
    expect(there.txs).toEqual(here.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender })));
    await expect(generateOffThread({ ...options, accounts: 0 })).rejects.toThrow(/^workload generation: /);
  }, 60_000);
});

// The engine's lookahead: while a block runs, what the next block will likely read is loaded
// where the next block will likely run, so it starts without a round trip to the state service.
// A lookahead is a hint: results must not change with it, whatever it loads or fails to load.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { createSimExecutors, runChain, type SimExecutor } from '../../test/support/engineHarness.js';
import { TxExecutor } from '../evm/index.js';
import { generateWorkload, type WorkloadKind } from '../workloads/index.js';

const CHAIN_ID = 31337n;

async function chainOf(workload: WorkloadKind, accounts: number, blocks: number, blockTxs: number) {
  const w = await generateWorkload({ workload, accounts, hotShare: 0, chainId: CHAIN_ID, seed: `lookahead-${workload}`, txCount: blocks * blockTxs });
  const txs: Tx[] = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
  return { genesis: w.genesis, blocks: Array.from({ length: blocks }, (_, b) => txs.slice(b * blockTxs, (b + 1) * blockTxs)) };
}

describe('lookahead', () => {
  let executors: SimExecutor[];
  let local: TxExecutor;

  beforeAll(async () => {
    executors = await createSimExecutors(CHAIN_ID, 2);
    local = await TxExecutor.create({ chainId: CHAIN_ID });
  });

  it('loads the next serial block\'s state while this one runs: the next one makes no round trip', async () => {
    // ERC-20 transfers over 400 holders in blocks of 60: each block meets holders no block before it touched.
    const { genesis, blocks } = await chainOf('erc20', 400, 4, 60);
    const serialHere = { serialInProcess: true, adaptiveMode: false };
    const run = (lookahead: boolean) => runChain({
      genesis, blocks, executors, executorCount: 1, local, chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5 },
      engine: serialHere, lookahead, localPatterns: true,
    });
    const without = await run(false);
    const with_ = await run(true);
    for (const r of [without, with_]) {
      expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
      expect(r.receipts).toEqual(r.referenceReceipts);
      expect(r.reports.every((report) => report.mode === 'serial' && report.serialReason === 'fewer than 2 executors')).toBe(true);
    }
    // Blocks 2-4 met new holders: each paid at least a round trip on its own…
    expect(without.reports.slice(1).every((report) => report.stateRoundTrips >= 1)).toBe(true);
    expect(without.reports.every((report) => report.lookaheadKeys === 0)).toBe(true);
    // …and none with the block before loading for it, once patterns know where balances live:
    // block 2's lookahead ran as block 1 started, before block 1's first calls taught them.
    expect(with_.reports.slice(2).map((report) => report.stateRoundTrips)).toEqual([0, 0]);
    expect(with_.reports[1]!.stateRoundTrips).toBeLessThanOrEqual(1);
    expect(with_.reports.slice(0, 3).every((report) => report.lookaheadKeys > 0 && report.lookaheadRoundTrips <= 2)).toBe(true);
    expect(with_.reports[3]!.lookaheadKeys).toBe(0); // the last block has no successor
  }, 60_000);

  it('sends each partition of a parallel next block to its executor, and never changes a result', async () => {
    const { genesis, blocks } = await chainOf('transfer', 300, 3, 80);
    const r = await runChain({
      genesis, blocks, executors, executorCount: 2, local, chaos: { failRate: 0, maxDelayMs: 2, random: Math.random },
      engine: { adaptiveMode: false }, lookahead: true,
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.reports.map((report) => report.mode)).toEqual(['parallel', 'parallel', 'parallel']);
    // Blocks 2 and 3 run on the plan their lookahead made (nothing it depends on changed): no
    // planning on their path. Block 1 had no lookahead before it.
    expect(r.reports[0]!.planMs).toBeGreaterThan(0);
    expect(r.reports.slice(1).map((report) => report.planMs)).toEqual([0, 0]);
    // Each of the 2 executors loads its head partition's accounts and the tails it may take, in
    // one request: at most 2 round trips each.
    for (const report of r.reports.slice(0, 2)) {
      expect(report.lookaheadKeys).toBeGreaterThan(0);
      expect(report.lookaheadRoundTrips).toBeLessThanOrEqual(4);
      expect(report.lookaheadFailures).toBe(0);
    }
  }, 60_000);

  it('counts a lookahead that fails, and the block after it still equals the reference', async () => {
    const { genesis, blocks } = await chainOf('transfer', 300, 2, 80);
    // Every executor request fails: partitions fall back to the scheduler, lookaheads are counted.
    const r = await runChain({
      genesis, blocks, executors, executorCount: 2, local, chaos: { failRate: 1, maxDelayMs: 0, random: () => 0.5 },
      engine: { adaptiveMode: false }, lookahead: true,
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.reports[0]!.lookaheadFailures).toBe(2);
    expect(r.reports[0]!.lookaheadKeys).toBe(0);
  }, 60_000);
});

// The scheduler's own partition (EngineOptions.localPartitionMaxExecutors): the scheduler takes a share of a
// parallel block as one more executor slot, in-process. One executor then makes a block parallel;
// which slot runs what, and a local run that fails, must not change a result.
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimExecutors, runChain, transferBlocks, type SimExecutor } from '../../test/support/engineHarness.js';
import { TxExecutor } from '../evm/index.js';

const CHAIN_ID = 31337n;

describe('the scheduler runs a partition itself', () => {
  let executors: SimExecutor[];
  let local: TxExecutor;
  let localDeltas: TxExecutor;

  beforeAll(async () => {
    executors = await createSimExecutors(CHAIN_ID, 2);
    local = await TxExecutor.create({ chainId: CHAIN_ID });
    localDeltas = await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true });
  }, 60_000);

  it('makes blocks parallel with one executor, and the result stays the serial one', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'local-one', 3);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 1, local, localDeltas, lookahead: true,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5 },
      engine: { tailsPerExecutor: 2, tailShare: 0.4 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.receipts).toEqual(r.referenceReceipts);
    // 2 heads (the executor's, the scheduler's) and 4 tails per block.
    expect(r.reports.map((report) => [report.mode, report.serialReason, report.partitions, report.fallbacks])).toEqual(Array(3).fill(['parallel', '', 6, 0]));
    // The executor ran its head and some tails, never all 6 partitions of a block.
    expect(r.requestsBySlot[0]).toBeGreaterThanOrEqual(3);
    expect(r.requestsBySlot[0]).toBeLessThan(18);
  }, 120_000);

  it('takes every tail while the executor is slow', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'local-slow', 2);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 1, local, localDeltas,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5, slotDelayMs: () => 1500 },
      engine: { tailsPerExecutor: 2, tailShare: 0.4 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.reports.map((report) => [report.mode, report.serialReason])).toEqual([['parallel', ''], ['parallel', '']]);
    // Only the executor's head went to it, and the one tail queued behind the head (queueAhead).
    expect(r.requestsBySlot).toEqual([4]);
  }, 120_000);

  it('issues its partition to an executor when its own state read fails', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'local-fail', 2);
    let reads = 0;
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 1, local, localDeltas,
      // The scheduler's first read (its head's prefetch) times out.
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5, localReadFails: () => reads++ === 0 },
      engine: { tailsPerExecutor: 0 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.receipts).toEqual(r.referenceReceipts);
    expect(r.reports.map((report) => [report.mode, report.fallbacks])).toEqual([['parallel', 0], ['parallel', 0]]);
    expect(r.reports[0]!.partitionRetries).toBe(1);
    expect(r.requestsBySlot).toEqual([3]);
  }, 120_000);

  it('leaves the block to the executors when more are alive than the limit', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'local-many', 1);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 2, local, localDeltas,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5 },
      engine: { localPartitionMaxExecutors: 1, tailsPerExecutor: 0 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.reports.map((report) => [report.mode, report.partitions])).toEqual([['parallel', 2]]);
    expect(r.requestsBySlot).toEqual([1, 1]);
  }, 60_000);

  it('runs blocks serially with one executor when it is off', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'local-off', 1);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 1, local, localDeltas,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5 },
      engine: { localPartitionMaxExecutors: 0, serialInProcess: true },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.reports.map((report) => [report.mode, report.serialReason])).toEqual([['serial', 'fewer than 2 executors']]);
  }, 60_000);
});

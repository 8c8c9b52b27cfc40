// Dynamic dispatch: a parallel block is cut into one head partition per executor and smaller
// tails, and each tail goes to whichever executor is free first, so an executor slowed by its
// host does not hold the block for the whole difference. Who runs what must not change a result.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { createSimExecutors, runChain, transferBlocks, type SimExecutor } from '../../test/support/engineHarness.js';
import { TxExecutor } from '../evm/index.js';
import { deriveAccount, signEip1559 } from '../workloads/index.js';
import { planPartitions } from './partition.js';

const CHAIN_ID = 31337n;
const senders = Array.from({ length: 100 }, (_, i) => deriveAccount('dispatch', i));

function transfer(sender: number, nonce: number, recipient: number): Tx {
  const s = signEip1559({
    chainId: CHAIN_ID, nonce: BigInt(nonce), maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21_000n,
    to: Buffer.alloc(20, recipient + 1), value: 1n, data: new Uint8Array(0),
  }, senders[sender]!);
  return { raw: s.raw, hash: s.hash, sender: s.sender };
}

describe('planPartitions with tails', () => {
  // 100 txs from 100 senders to 100 distinct recipients: every tx is its own group.
  const txs = Array.from({ length: 100 }, (_, i) => transfer(i, 0, i));

  it('cuts heads of equal share first, then tails sharing the tail share, each smaller than the one before', () => {
    const plan = planPartitions(txs, 2, { hotAddresses: new Set() }, { tails: 4, tailShare: 0.2 });
    expect(plan.heads).toBe(2);
    // 20 tail txs by weights 4, 3, 2, 1.
    expect(plan.partitions.map((p) => p.length)).toEqual([40, 40, 8, 6, 4, 2]);
    expect(plan.partitions.flat().sort((a, b) => a - b)).toEqual(txs.map((_, i) => i));
    for (const p of plan.partitions) expect(p).toEqual([...p].sort((a, b) => a - b));
  });

  it('plans as before without tails, and the same way each time', () => {
    const plain = planPartitions(txs, 2, { hotAddresses: new Set() });
    expect(plain.heads).toBe(2);
    expect(plain.partitions.map((p) => p.length)).toEqual([50, 50]);
    const shape = { tails: 3, tailShare: 0.3 };
    expect(planPartitions(txs, 3, { hotAddresses: new Set() }, shape)).toEqual(planPartitions(txs, 3, { hotAddresses: new Set() }, shape));
  });

  it('puts a group too big for a tail in a head, whole', () => {
    // 30 txs of one sender (a nonce chain) and 70 singletons.
    const chain = [...Array.from({ length: 30 }, (_, n) => transfer(0, n, 0)), ...Array.from({ length: 70 }, (_, i) => transfer(i + 1, 0, i + 1))];
    const plan = planPartitions(chain, 2, { hotAddresses: new Set() }, { tails: 4, tailShare: 0.2 });
    const holder = plan.partitions.findIndex((p) => p.includes(0));
    expect(holder).toBeLessThan(plan.heads);
    expect(plan.partitions[holder]!.slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(plan.largestGroup).toBe(30);
  });

  it('refuses a shape that leaves no room for heads', () => {
    expect(() => planPartitions(txs, 2, { hotAddresses: new Set() }, { tails: 2, tailShare: 1 })).toThrow(/bad shape/);
  });
});

describe('dynamic dispatch', () => {
  let executors: SimExecutor[];
  let local: TxExecutor;

  beforeAll(async () => {
    executors = await createSimExecutors(CHAIN_ID, 2);
    local = await TxExecutor.create({ chainId: CHAIN_ID });
  });

  // Executor 0 answers every request a second late: executor 1 runs its head and every tail it
  // can take (84 transfers, a few ms each even on a cold, loaded machine) before executor 0 has
  // answered its head. One request at a time (queueAhead 0), executor 0 runs only its head;
  // assigned up front, each executor would run 3 partitions per block. With one tail queued
  // behind each head, executor 0 also runs the tail queued behind its head, and executor 1 takes
  // the other three, the last of them only once it was free (the last tail is never queued).
  it.each([
    { queueAhead: 0, requests: [3, 15] },
    { queueAhead: 1, requests: [6, 12] },
  ])('gives the tails to the executor that is free (queueAhead $queueAhead), and the result stays the serial one', async ({ queueAhead, requests }) => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, `dispatch-${queueAhead}`, 3);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 2, local,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5, slotDelayMs: (slot) => (slot === 0 ? 1000 : 0) },
      engine: { adaptiveMode: false, tailsPerExecutor: 2, tailShare: 0.4, queueAhead },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.receipts).toEqual(r.referenceReceipts);
    // 2 heads and 4 tails per block (4 = 2 per executor; 120 × 0.4 = 48 txs: 20, 15, 10 and 5).
    expect(r.reports.map((report) => [report.mode, report.partitions])).toEqual([['parallel', 6], ['parallel', 6], ['parallel', 6]]);
    expect(r.requestsBySlot).toEqual(requests);
  }, 60_000);

  it('re-issues the partitions of an executor that fails every request, tails included, to the other', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'dispatch-dead', 2);
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 2, local,
      chaos: { failRate: 0, maxDelayMs: 0, random: () => 0.5, slotFails: (slot) => slot === 0 },
      engine: { adaptiveMode: false, tailsPerExecutor: 2, tailShare: 0.4, attempts: 2 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.receipts).toEqual(r.referenceReceipts);
    // Every partition ran on executor 1, none fell back to the scheduler.
    expect(r.requestsBySlot).toEqual([0, 12]);
    for (const report of r.reports) {
      expect([report.mode, report.partitions, report.fallbacks]).toEqual(['parallel', 6, 0]);
      expect(report.partitionRetries).toBeGreaterThanOrEqual(1);
    }
  }, 60_000);

  it('runs a block serially when an executor answers without read-sets or with a broken one, and its result stays the serial one', async () => {
    const { w, blocks } = await transferBlocks(CHAIN_ID, 'dispatch-unfit', 2);
    // Executor 1 answers as an executor of an older version would (its sets in fields this one
    // does not read) in block 1, and with truncated read-sets in block 2. Partition requests are
    // numbered height × 64 + partition.
    const r = await runChain({
      genesis: w.genesis, blocks, executors, executorCount: 2, local,
      chaos: {
        failRate: 0, maxDelayMs: 0, random: () => 0.5,
        answer: (res, slot) => (slot !== 1 ? res : {
          ...res, results: res.results.map((t) => ({ ...t, readsPacked: res.requestId / 64n === 1n ? Buffer.alloc(0) : t.readsPacked.subarray(0, 5) })),
        }),
      },
      engine: { adaptiveMode: false, tailsPerExecutor: 0 },
    });
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
    expect(r.receipts).toEqual(r.referenceReceipts);
    expect(r.reports.map((report) => [report.mode, report.serialReason])).toEqual([['serial', 'engine fallback'], ['serial', 'engine fallback']]);
  }, 60_000);
});

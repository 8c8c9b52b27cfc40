// Invariants 1 and 2 as a property: random blocks (transfers, ERC-20s, an AMM pair, NFT mints;
// 2 to 1,000 accounts; hot accounts) through the parallel engine with 1, 2 and 4 executors,
// with and without the scheduler's own partition, random delays and executor restarts, give the serial reference's receipts and state root
// after every block. LANES_PROPERTY_RUNS raises the number of runs on demand.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { createSimExecutors, runChain, type SimExecutor } from '../../test/support/engineHarness.js';
import { TxExecutor } from '../evm/index.js';
import { generateWorkload, type GeneratedWorkload, type WorkloadKind } from '../workloads/index.js';

const CHAIN_ID = 31337n;
const RUNS = Number(process.env['LANES_PROPERTY_RUNS'] ?? 60);
const BLOCKS_PER_RUN = 5;
const TXS_PER_WORKLOAD = 160;

const KINDS: WorkloadKind[] = ['transfer', 'erc20', 'amm', 'mixed'];
const ACCOUNTS = [2, 10, 100, 1000];

describe('parallel engine equals the serial reference', () => {
  const workloads = new Map<string, GeneratedWorkload>();
  let executors: SimExecutor[];
  let local: TxExecutor;
  let localDeltas: TxExecutor;

  beforeAll(async () => {
    executors = await createSimExecutors(CHAIN_ID, 4);
    local = await TxExecutor.create({ chainId: CHAIN_ID });
    localDeltas = await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true });
    for (const kind of KINDS) {
      for (const accounts of ACCOUNTS) {
        const hotShare = accounts === 10 ? 0.5 : 0.1;
        workloads.set(`${kind}/${accounts}`, await generateWorkload({ workload: kind, accounts, hotShare, chainId: CHAIN_ID, seed: `${kind}-${accounts}`, txCount: TXS_PER_WORKLOAD }));
      }
    }
  }, 300_000);

  it(`holds over ${RUNS} random chains of ${BLOCKS_PER_RUN} blocks`, async () => {
    let blocksChecked = 0;
    let reexecutions = 0;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...KINDS),
      fc.constantFrom(...ACCOUNTS),
      fc.constantFrom(1, 2, 4),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: BLOCKS_PER_RUN, maxLength: BLOCKS_PER_RUN }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer(),
      fc.boolean(),
      // Tail partitions (dynamic dispatch): none, a few, or most of the block in small tails.
      fc.constantFrom(0, 0.2, 0.8),
      fc.constantFrom(1, 2, 4),
      // The scheduler runs a share of parallel blocks itself (one more slot), or only executors do.
      fc.boolean(),
      async (kind, accounts, executorCount, sizes, failRate, maxDelayMs, seed, lookahead, tailShare, tailsPerExecutor, localPartition) => {
        const workload = workloads.get(`${kind}/${accounts}`)!;
        const txs: Tx[] = workload.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
        const blocks: Tx[][] = [];
        let at = 0;
        for (const size of sizes) {
          blocks.push(txs.slice(at, at + size));
          at += size;
        }
        let s = seed >>> 0;
        const random = (): number => {
          s = (s * 1103515245 + 12345) >>> 0;
          return s / 2 ** 32;
        };
        const result = await runChain({
          genesis: workload.genesis, blocks, executors, executorCount, local, ...(localPartition ? { localDeltas } : {}),
          chaos: { failRate, maxDelayMs, random }, lookahead, engine: { tailShare, tailsPerExecutor },
        });
        for (let b = 0; b < blocks.length; b++) {
          expect(result.receipts[b], `receipts of block ${b + 1}`).toEqual(result.referenceReceipts[b]);
          expect(result.rejected[b]).toBe(result.referenceRejected[b]);
          expect(result.roots[b]!.toString('hex'), `state root of block ${b + 1}`).toBe(result.referenceRoots[b]!.toString('hex'));
        }
        blocksChecked += blocks.length;
        reexecutions += result.reports.reduce((n, r) => n + r.reexecutions, 0);
      },
    ), { numRuns: RUNS, seed: Number(process.env['LANES_PROPERTY_SEED'] ?? 20261125) });
    expect(blocksChecked).toBeGreaterThanOrEqual(RUNS * BLOCKS_PER_RUN);
    // The property must exercise conflicts, or it proves little.
    expect(reexecutions).toBeGreaterThan(0);
  }, 600_000);
});

import { describe, expect, it } from 'vitest';
import { ExecResponse, type ExecRequest } from '../../gen/lanes/v1/bus.js';
import { genesisStateEntries } from '../chain/genesis.js';
import { TxExecutor } from '../evm/index.js';
import { bigintToBytes } from '../state/keys.js';
import { generateWorkload } from '../workloads/index.js';
import { runBlockSerially } from './blockRun.js';
import { CommittedStateCache } from './committedState.js';
import { warmUpExecution } from './warmUp.js';

const CHAIN_ID = 31337n;

describe('warmUpExecution', () => {
  it('runs its private workload through the EVMs it is given, every tx succeeding', async () => {
    const executors = [await TxExecutor.create({ chainId: CHAIN_ID }), await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true })];
    const report = await warmUpExecution(executors, { txs: 120, maxMs: 60_000, chainId: CHAIN_ID, blockTxs: 50 });
    expect(report.txs).toBe(120);
    // A chain id the executors refuse would make every tx invalid: a warm-up of nothing.
    expect(report.succeeded).toBe(120);
    expect(report.timedOut).toBe(false);
    expect(report.firstBlockMicrosPerTx).toBeGreaterThan(0);
    expect(report.lastBlockMicrosPerTx).toBeGreaterThan(0);
    expect(report.ms).toBeGreaterThanOrEqual(report.signMs);
  });

  it('does nothing for 0 txs and stops at maxMs', async () => {
    const executor = await TxExecutor.create({ chainId: CHAIN_ID });
    expect((await warmUpExecution([executor], { txs: 0, maxMs: 60_000, chainId: CHAIN_ID })).txs).toBe(0);
    const stopped = await warmUpExecution([executor], { txs: 100, maxMs: 0, chainId: CHAIN_ID });
    expect(stopped).toMatchObject({ txs: 0, timedOut: true });
  });

  it('leaves nothing behind: a warmed executor gives the same results as a fresh one', async () => {
    const w = await generateWorkload({ workload: 'mixed', accounts: 12, hotShare: 0, chainId: CHAIN_ID, seed: 'warm-up-test', txCount: 40 });
    const g = w.genesis;
    const req: ExecRequest = {
      env: { number: 1n, timestamp: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit, baseFeePerGas: bigintToBytes(g.baseFeePerGas), prevRandao: Buffer.alloc(32, 1), chainId: g.chainId },
      baseHeight: 0n, txs: w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender })), txIndexes: w.txs.map((_, i) => i),
      recentHashes: [], prefetched: [], requestId: 1n, partition: false,
    };
    const run = async (executor: TxExecutor): Promise<Buffer> => {
      const state = genesisStateEntries(g);
      const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 10_000);
      cache.reset(0n);
      const { results } = await runBlockSerially(executor, req, cache);
      return Buffer.from(ExecResponse.encode({ requestId: 1n, results, error: '', stateRoundTrips: 0, executorId: '', cpuMicros: 0n }).finish());
    };
    const fresh = await run(await TxExecutor.create({ chainId: CHAIN_ID }));
    const warmed = await TxExecutor.create({ chainId: CHAIN_ID });
    await warmUpExecution([warmed], { txs: 100, maxMs: 60_000, chainId: CHAIN_ID, blockTxs: 50 });
    expect((await run(warmed)).equals(fresh)).toBe(true);
  });
});

import { Interface, Wallet, parseEther } from 'ethers';
import { describe, expect, it } from 'vitest';
import { TxStatus, type ExecRequest } from '../../gen/lanes/v1/bus.js';
import { assembleCommit } from '../../services/scheduler/assemble.js';
import { devGenesis, genesisStateEntries, DEV_ACCOUNTS } from '../chain/genesis.js';
import { erc20Artifact } from '../contracts.js';
import { ReferenceExecutor, TxExecutor } from '../evm/index.js';
import { accountKey, bigintToBytes, keyFromBytes, type StateKey } from '../state/keys.js';
import { txCallFields } from '../chain/txFields.js';
import { blockWritesOf, runBlockSerially, warmAhead } from './blockRun.js';
import { CommittedStateCache } from './committedState.js';
import { unpackReads, unpackWrites } from './packedSets.js';

const genesis = devGenesis();
const env = {
  number: 1n, timestamp: 1_700_000_100n, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
  baseFeePerGas: bigintToBytes(genesis.baseFeePerGas), prevRandao: Buffer.alloc(32, 7), chainId: genesis.chainId,
};

async function signed(wallet: Wallet, nonce: number, to: string | null, data = '0x', value = 0n, gasLimit = 200_000n) {
  const raw = await wallet.signTransaction({
    type: 2, chainId: genesis.chainId, nonce, to, data, value, gasLimit, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
  });
  const bytes = Buffer.from(raw.slice(2), 'hex');
  const { keccak256 } = await import('ethers');
  return { raw: bytes, hash: Buffer.from(keccak256(raw).slice(2), 'hex'), sender: Buffer.from(wallet.address.slice(2), 'hex') };
}

describe('runBlockSerially', () => {
  it('gives the reference executor\'s outcomes and final state, with few state round trips', async () => {
    const entries = genesisStateEntries(genesis);
    const committed = new Map<StateKey, Buffer>(entries);
    let fetches = 0;
    const cache = new CommittedStateCache(async (keys) => { fetches++; return keys.map((k) => committed.get(k) ?? null); }, 10_000);
    cache.reset(0n);

    const [a, b] = [new Wallet(DEV_ACCOUNTS[0]!.privateKey), new Wallet(DEV_ACCOUNTS[1]!.privateKey)];
    const artifact = erc20Artifact();
    const iface = new Interface(artifact.abi as never);
    const deployData = artifact.bytecode + iface.encodeDeploy(['T', 'T', 1000n, a.address]).slice(2);
    const { getCreateAddress } = await import('ethers');
    const token = getCreateAddress({ from: a.address, nonce: 0 });
    const txs = [
      await signed(a, 0, null, deployData, 0n, 2_000_000n),
      await signed(a, 1, token, iface.encodeFunctionData('transfer', [b.address, 10n])),
      await signed(b, 0, token, iface.encodeFunctionData('transfer', [a.address, 11n])), // reverts: b has 10
      await signed(b, 5, b.address, '0x', 1n, 21_000n), // nonce too high: invalid
      await signed(b, 1, a.address, '0x', parseEther('1'), 21_000n),
    ];
    expect(txCallFields(txs[1]!.raw).to?.toString('hex')).toBe(token.slice(2).toLowerCase());
    expect(txCallFields(txs[0]!.raw).to).toBeNull();

    const req: ExecRequest = { env, baseHeight: 0n, txs, txIndexes: txs.map((_, i) => i), recentHashes: [Buffer.alloc(32, 1)], prefetched: [], requestId: 1n, partition: false };
    const executor = await TxExecutor.create({ chainId: genesis.chainId });
    const { results, writes, roundTrips } = await runBlockSerially(executor, req, cache);
    expect(results.map((r) => r.status)).toEqual([
      TxStatus.TX_STATUS_SUCCESS, TxStatus.TX_STATUS_SUCCESS, TxStatus.TX_STATUS_REVERTED, TxStatus.TX_STATUS_INVALID, TxStatus.TX_STATUS_SUCCESS,
    ]);
    expect(results[3]!.error).toMatch(/nonce too high/);
    expect(unpackWrites(results[3]!.writesPacked)).toHaveLength(0);
    // Every tx that ran reports what it read, its sender's account first among them.
    for (const r of results) expect(unpackReads(r.readsPacked).map((e) => e.key)).toContain(accountKey(txs[r.txIndex]!.sender));
    expect(roundTrips).toBe(fetches);
    expect(roundTrips).toBeLessThan(12);

    const reference = await ReferenceExecutor.create({ chainId: genesis.chainId, genesis: entries });
    const outcomes = await reference.executeBlock({
      chainId: env.chainId, number: 1n, timestampSec: env.timestamp, coinbase: env.coinbase, gasLimit: env.gasLimit,
      baseFeePerGas: genesis.baseFeePerGas, prevRandao: env.prevRandao, blockHashes: new Map([[0n, Buffer.alloc(32, 1)]]),
    }, txs);
    expect(results.map((r) => r.gasUsed)).toEqual(outcomes.map((o) => o.gasUsed));

    // The write set handed over is the last write of each key in the wire results.
    expect(writes).toEqual(blockWritesOf(results));
    // A run in the scheduler's own process leaves the sets out of its results, not out of its writes.
    const cache2 = new CommittedStateCache(async (keys) => keys.map((k) => committed.get(k) ?? null), 10_000);
    cache2.reset(0n);
    const compact = await runBlockSerially(await TxExecutor.create({ chainId: genesis.chainId }), req, cache2, { wire: false });
    expect(compact.results.every((r) => r.readsPacked.length === 0 && r.writesPacked.length === 0)).toBe(true);
    expect(compact.results.map((r) => [r.status, r.gasUsed])).toEqual(results.map((r) => [r.status, r.gasUsed]));
    expect(compact.writes).toEqual(writes);

    // Applying the assembled write set to the committed state gives the reference's state.
    const commit = assembleCommit({ height: 1n, parentDigest: Buffer.alloc(32), timestamp: env.timestamp, txRoot: Buffer.alloc(32), txs, digest: Buffer.alloc(32, 7), lastTxStreamSeq: 1n }, env, results, writes);
    expect(commit.txs).toHaveLength(4);
    expect(commit.rejections).toHaveLength(1);
    expect(commit.receipts.map((r) => r.success)).toEqual([true, true, false, true]);
    for (const w of commit.writes) {
      if (w.absent) committed.delete(keyFromBytes(w.key));
      else committed.set(keyFromBytes(w.key), w.value);
    }
    const referenceState = new Map(reference.entries());
    expect(new Map([...committed].sort())).toEqual(new Map([...referenceState].sort()));
  });
});

/**
 * One block of a generated workload run serially over a cache that holds nothing yet, with an
 * access-pattern learner that knows nothing yet; counts the cache's fetches.
 */
async function runColdBlock(workload: 'erc20' | 'amm', accounts: number, txCount: number) {
  const { generateWorkload } = await import('../workloads/index.js');
  const { AccessPatternLearner } = await import('./accessPatterns.js');
  const w = await generateWorkload({ workload, accounts, hotShare: 0, chainId: 31337n, seed: `cold-${workload}`, txCount });
  const committed = new Map<StateKey, Buffer>(genesisStateEntries(w.genesis));
  let fetches = 0;
  const cache = new CommittedStateCache(async (keys) => {
    fetches++;
    return keys.map((k) => committed.get(k) ?? null);
  }, 100_000);
  cache.reset(0n);
  const g = w.genesis;
  const blockEnv = { number: 1n, timestamp: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit, baseFeePerGas: bigintToBytes(g.baseFeePerGas), prevRandao: Buffer.alloc(32), chainId: g.chainId };
  const txs = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
  const req: ExecRequest = { env: blockEnv, baseHeight: 0n, txs, txIndexes: txs.map((_, i) => i), recentHashes: [], prefetched: [], requestId: 1n, partition: false };
  const executor = await TxExecutor.create({ chainId: g.chainId });
  const run = await runBlockSerially(executor, req, cache, { patterns: new AccessPatternLearner() });
  return { ...run, fetches };
}

describe('runBlockSerially on a cold cache', () => {
  it('loads what the rest of the block will read along with a miss, so round trips stay few', async () => {
    const { MISS_BATCHES_MAX } = await import('./overlaySource.js');
    // Nothing learned yet: the prefetch knows accounts only, the token balances are misses.
    const { results, roundTrips, fetches } = await runColdBlock('erc20', 400, 300);
    expect(results.every((r) => r.status === TxStatus.TX_STATUS_SUCCESS)).toBe(true);
    expect(roundTrips).toBe(fetches);
    // Without companions this block took one round trip per new balance slot: 317. With them: 7.
    expect(roundTrips, `${roundTrips} round trips`).toBeLessThanOrEqual(2 + MISS_BATCHES_MAX + 8);
  });

  it('keeps a cold block of router swaps to a few dozen round trips: looks wait for patterns to learn', async () => {
    const { results, roundTrips, fetches } = await runColdBlock('amm', 100, 120);
    expect(results.filter((r) => r.status === TxStatus.TX_STATUS_SUCCESS).length).toBeGreaterThan(100);
    expect(roundTrips).toBe(fetches);
    // The first swap's cold misses used to spend every look before anything was learned: 289
    // round trips for this block (≈ 550 for 500 swaps).
    expect(roundTrips, `${roundTrips} round trips`).toBeLessThanOrEqual(40);
  });

  it('predicts a block\'s keys once: the prefetch of a cold cache reuses what the lookahead predicted for the same txs', async () => {
    const { generateWorkload } = await import('../workloads/index.js');
    const { AccessPatternLearner } = await import('./accessPatterns.js');
    const w = await generateWorkload({ workload: 'erc20', accounts: 200, hotShare: 0, chainId: 31337n, seed: 'predict-once', txCount: 120 });
    const committed = new Map<StateKey, Buffer>(genesisStateEntries(w.genesis));
    const g = w.genesis;
    const blockEnv = { number: 1n, timestamp: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit, baseFeePerGas: bigintToBytes(g.baseFeePerGas), prevRandao: Buffer.alloc(32), chainId: g.chainId };
    const txs = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
    const request = (blockTxs: typeof txs): ExecRequest => ({ env: blockEnv, baseHeight: 0n, txs: blockTxs, txIndexes: blockTxs.map((_, i) => i), recentHashes: [], prefetched: [], requestId: 1n, partition: false });
    const executor = await TxExecutor.create({ chainId: g.chainId });
    const patterns = new AccessPatternLearner();
    // Learn the token's balance mappings from a first run, so that predictions name storage keys.
    const learning = new CommittedStateCache(async (keys) => keys.map((k) => committed.get(k) ?? null), 100_000);
    learning.reset(0n);
    await runBlockSerially(executor, request(txs.slice(0, 60)), learning, { patterns });
    let predictions = 0;
    const predict = patterns.predict.bind(patterns);
    patterns.predict = (call) => {
      predictions++;
      return predict(call);
    };
    const block = txs.slice(60);
    const cold = (): CommittedStateCache => {
      const cache = new CommittedStateCache(async (keys) => keys.map((k) => committed.get(k) ?? null), 100_000);
      cache.reset(0n);
      cache.noteRun(1); // the last run missed: the block's prefetch predicts its keys
      return cache;
    };
    const cache = cold();
    await warmAhead(request(block), cache, patterns);
    const byLookahead = predictions;
    expect(byLookahead).toBe(block.length);
    const run = await runBlockSerially(executor, request(block), cache, { patterns });
    expect(run.roundTrips).toBe(0);
    expect(predictions).toBe(byLookahead); // nothing predicted again
    // Another txs array (another block) is predicted afresh.
    await runBlockSerially(executor, request([...block]), cold(), { patterns });
    expect(predictions).toBeGreaterThanOrEqual(2 * block.length);
  });
});

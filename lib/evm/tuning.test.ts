// The tuned interpreter (cached jump analysis, Set-backed EIP lookups, WebAssembly keccak) must
// compute exactly what the stock one does: same receipts, same reads and writes, on every
// workload, including contract creation and AMM swaps that run four call frames.
import { describe, expect, it } from 'vitest';
import { genesisStateEntries } from '../chain/genesis.js';
import { generateWorkload, type WorkloadKind } from '../workloads/index.js';
import { MapStateSource, TxExecutor, type BlockEnv, type TxOutcome } from './index.js';
import { fastEipLookup, jumpAnalysisStats } from './tuning.js';
import { chainCommon } from '../chain/common.js';
import { keccak256 } from '../crypto/keccak.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

const CHAIN_ID = 31337n;

function comparable(o: TxOutcome): unknown {
  return {
    status: o.status, error: o.error, gasUsed: o.gasUsed, logs: o.logs, returnData: o.returnData.toString('hex'),
    contractAddress: o.contractAddress?.toString('hex') ?? null,
    writes: [...o.writes].map(([k, v]) => [k, v?.toString('hex') ?? null]),
    reads: [...o.reads].map(([k, v]) => [k, v.txIndex, v.incarnation]),
  };
}

async function runAll(kind: WorkloadKind, tuned: boolean): Promise<unknown[]> {
  const w = await generateWorkload({ workload: kind, accounts: 20, hotShare: 0.3, chainId: CHAIN_ID, seed: `tuning-${kind}`, txCount: 80 });
  const state = new Map(genesisStateEntries(w.genesis));
  const source = new MapStateSource(state);
  const executor = await TxExecutor.create({ chainId: CHAIN_ID, tuned });
  const g = w.genesis;
  const env: BlockEnv = {
    chainId: g.chainId, number: 1n, timestampSec: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit,
    baseFeePerGas: g.baseFeePerGas, prevRandao: Buffer.alloc(32, 7),
  };
  const out: unknown[] = [];
  for (const tx of w.txs) {
    const o = await executor.execute(tx, env, source);
    for (const [k, v] of o.writes) {
      if (v === null) state.delete(k);
      else state.set(k, v);
    }
    out.push(comparable(o));
  }
  return out;
}

describe('EVM tuning', () => {
  for (const kind of ['erc20', 'amm', 'nft', 'mixed'] as const) {
    it(`gives the stock interpreter's outcomes for ${kind} transactions`, async () => {
      const stock = await runAll(kind, false);
      const before = jumpAnalysisStats.cached;
      const tuned = await runAll(kind, true);
      expect(tuned).toEqual(stock);
      expect(jumpAnalysisStats.cached).toBeGreaterThan(before);
    });
  }

  it('answers isActivatedEIP as Common does, and follows a hardfork change', () => {
    const plain = chainCommon(CHAIN_ID).copy();
    const fast = chainCommon(CHAIN_ID).copy();
    fastEipLookup(fast);
    for (const eip of [1559, 2929, 3855, 4844, 1153, 6780, 7702, 6800, 7864, 3540, 2537]) {
      expect(fast.isActivatedEIP(eip)).toBe(plain.isActivatedEIP(eip));
    }
    fast.setHardfork('prague');
    plain.setHardfork('prague');
    expect(fast.isActivatedEIP(7702)).toBe(true);
    expect(fast.isActivatedEIP(7702)).toBe(plain.isActivatedEIP(7702));
  });

  it('hashes with keccak-256', () => {
    for (const len of [0, 1, 31, 32, 64, 135, 136, 137, 1000]) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff);
      expect(Buffer.from(keccak256(data))).toEqual(Buffer.from(keccak_256(data)));
    }
  });
});

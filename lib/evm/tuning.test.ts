// The tuned interpreter (cached jump analysis, Set-backed EIP lookups, WebAssembly keccak) must
// compute exactly what the stock one does: same receipts, same reads and writes, on every
// workload, including contract creation and AMM swaps that run four call frames.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { genesisStateEntries } from '../chain/genesis.js';
import { generateWorkload, type WorkloadKind } from '../workloads/index.js';
import { MapStateSource, TxExecutor, type BlockEnv, type TxOutcome } from './index.js';
import { fastEipLookup, fastHardforkOrder, jumpAnalysisStats } from './tuning.js';
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

  it("gives each call frame's objects the hidden classes of the frames before (no map per object)", async () => {
    // V8 11 gives every `{ ...a, b }` object a hidden class of its own; the patched package builds
    // those objects with Object.assign (patches/README.md). %HaveSameMap tells the two apart.
    v8.setFlagsFromString('--allow-natives-syntax');
    const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
    const w = await generateWorkload({ workload: 'erc20', accounts: 20, hotShare: 0, chainId: CHAIN_ID, seed: 'tuning-maps', txCount: 24 });
    const state = new Map(genesisStateEntries(w.genesis));
    const executor = await TxExecutor.create({ chainId: CHAIN_ID });
    const evm = (executor as unknown as { vm: { evm: Record<string, (...args: unknown[]) => Promise<object>> } }).vm.evm;
    const frames: Array<{ message: object; result: object }> = [];
    const runInterpreter = evm.runInterpreter!;
    evm.runInterpreter = async function (this: unknown, message: unknown, opts: unknown) {
      const result = await runInterpreter.call(this, message, opts);
      frames.push({ message: message as object, result });
      return result;
    };
    const g = w.genesis;
    const env: BlockEnv = { chainId: g.chainId, number: 1n, timestampSec: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit, baseFeePerGas: g.baseFeePerGas, prevRandao: Buffer.alloc(32, 7) };
    for (const tx of w.txs) {
      const o = await executor.execute(tx, env, new MapStateSource(state));
      expect(o.status).toBe('success');
      for (const [k, v] of o.writes) v === null ? state.delete(k) : state.set(k, v);
    }
    // Past the inline caches' warm-up (the first 8 spreads got shared maps even unpatched).
    const late = frames.slice(12);
    expect(late.length).toBeGreaterThan(8);
    for (const f of late.slice(1)) {
      expect(haveSameMap(f.message, late[0]!.message)).toBe(true);
      expect(haveSameMap(f.result, late[0]!.result)).toBe(true);
    }
  });

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

  it('answers on a Common that holds the tuned functions without their state', () => {
    const plain = chainCommon(CHAIN_ID).copy();
    const fast = chainCommon(CHAIN_ID).copy();
    fastEipLookup(fast);
    fastHardforkOrder(fast);
    const own = fast as unknown as Record<symbol, unknown>;
    for (const symbol of Object.getOwnPropertySymbols(fast)) delete own[symbol];
    expect(Object.getOwnPropertySymbols(fast)).toEqual([]);
    for (const eip of [1559, 4844, 6800, 7702]) expect(fast.isActivatedEIP(eip)).toBe(plain.isActivatedEIP(eip));
    expect(fast.hardforkGteHardfork(null, 'shanghai')).toBe(plain.hardforkGteHardfork(null, 'shanghai'));
    expect(fast.hardforkGteHardfork('london', 'cancun')).toBe(false);
  });

  it("gives every tuned Common the same lookup functions, so the EVM's call sites keep one target", async () => {
    const plain = await TxExecutor.create({ chainId: CHAIN_ID });
    const deltas = await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true });
    const commonOf = (e: TxExecutor): Record<string, unknown> => (e as unknown as { vm: { evm: { common: Record<string, unknown> } } }).vm.evm.common;
    const [a, b] = [commonOf(plain), commonOf(deltas)];
    expect(a).not.toBe(b);
    expect(typeof a.isActivatedEIP).toBe('function');
    expect(a.isActivatedEIP).toBe(b.isActivatedEIP);
    expect(a.hardforkGteHardfork).toBe(b.hardforkGteHardfork);
  });

  it('answers hardforkGteHardfork as Common does, tuned twice or not, and follows a hardfork change', () => {
    const plain = chainCommon(CHAIN_ID).copy();
    const fast = chainCommon(CHAIN_ID).copy();
    fastHardforkOrder(fast);
    fastHardforkOrder(fast);
    const names = ['chainstart', 'homestead', 'byzantium', 'london', 'paris', 'shanghai', 'cancun', 'prague'];
    for (let round = 0; round < 2; round++) {
      for (const first of [null, ...names]) for (const second of names) expect(fast.hardforkGteHardfork(first, second)).toBe(plain.hardforkGteHardfork(first, second));
      fast.setHardfork('prague');
      plain.setHardfork('prague');
    }
  });

  it('hashes with keccak-256', () => {
    for (const len of [0, 1, 31, 32, 64, 135, 136, 137, 1000]) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff);
      expect(Buffer.from(keccak256(data))).toEqual(Buffer.from(keccak_256(data)));
    }
  });
});

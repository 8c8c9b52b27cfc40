import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { ExecRequest } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { blockIndexes, pick, withTxs } from './requests.js';

// V8's own view of shapes (lib/evm/tuning.test.ts does the same): %HaveSameMap, %HasHoleyElements,
// and %OptimizeFunctionOnNextCall to run a builder as TurboFan code, where `.map` turns holey.
v8.setFlagsFromString('--allow-natives-syntax');
const native = <A extends unknown[], R>(body: string, ...params: string[]): ((...args: A) => R) => new Function(...params, body) as (...args: A) => R;
const haveSameMap = native<[object, object], boolean>('return %HaveSameMap(a, b)', 'a', 'b');
const holey = native<[unknown[]], boolean>('return %HasHoleyElements(a)', 'a');
const prepare = native<[Function], void>('%PrepareFunctionForOptimization(f)', 'f');
const optimizeNext = native<[Function], void>('%OptimizeFunctionOnNextCall(f)', 'f');

const txs: Tx[] = Array.from({ length: 12 }, (_, i) => ({ raw: Buffer.alloc(100, i), hash: Buffer.alloc(32, i), sender: Buffer.alloc(20, i) }));
const env = { number: 5n, timestamp: 5n, coinbase: Buffer.alloc(20), gasLimit: 30_000_000n, baseFeePerGas: Buffer.from([7]), prevRandao: Buffer.alloc(32), chainId: 1n };

/** A block request as the scheduler builds one (services/scheduler/scheduler.ts execRequest). */
function blockRequest(): ExecRequest {
  return { env, baseHeight: 4n, txs, txIndexes: blockIndexes(txs.length), recentHashes: [Buffer.alloc(32)], prefetched: [], requestId: 9n, partition: false };
}

describe('ExecRequest builders', () => {
  it('give partitions the hidden class of block requests and of decoded requests', () => {
    const block = blockRequest();
    const partition = withTxs(block, pick(block.txs, [1, 4, 7]), [1, 4, 7], true, 9n * 64n + 1n);
    const decoded = ExecRequest.decode(ExecRequest.encode(partition).finish());
    // Every field read once, so any object whose class a later store generalized has moved to the current one.
    for (const r of [block, partition, decoded]) expect(Object.values(r)).toHaveLength(8);
    expect(haveSameMap(partition, block)).toBe(true);
    expect(haveSameMap(partition, decoded)).toBe(true);
    expect(haveSameMap(Object.assign({}, block, { partition: true }), block)).toBe(false); // what withTxs replaced
    expect(partition.txs.map((t) => t.raw[0])).toEqual([1, 4, 7]);
  });

  it('make packed arrays, optimized or not', () => {
    const indexes = [0, 2, 3, 5, 8, 11];
    // Feedback first (two unoptimized rounds), then TurboFan: it inlines what the feedback shows.
    prepare(pick);
    prepare(blockIndexes);
    for (let round = 0; round < 3; round++) {
      if (round === 2) {
        optimizeNext(pick);
        optimizeNext(blockIndexes);
      }
      const picked = pick(txs, indexes);
      const all = blockIndexes(txs.length);
      expect(holey(picked)).toBe(false);
      expect(holey(all)).toBe(false);
      expect(picked).toEqual(indexes.map((i) => txs[i]));
      expect(all).toEqual([...txs.keys()]);
    }
  });
});

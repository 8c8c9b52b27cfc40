import { describe, expect, it } from 'vitest';
import type { TxBatch } from '../../gen/lanes/v1/bus.js';
import { transactionsRoot } from '../../lib/chain/block.js';
import { BlockCutter, type CutterLimits } from './blockCutter.js';

const limits: CutterLimits = { blockMaxTxs: 4, blockMaxBytes: 10_000, blockIntervalMs: 100, dedupeWindowTxs: 100 };
const genesisTip = { height: 0n, digest: Buffer.alloc(32), timestamp: 0n, lastTxStreamSeq: 0n };

function tx(n: number) {
  return { raw: Buffer.alloc(100, n), hash: Buffer.alloc(32, n), sender: Buffer.alloc(20, n) };
}
function batch(...ns: number[]): TxBatch {
  return { ingressId: 'i', batchSeq: 0n, txs: ns.map(tx), createdAtMs: 0n };
}

describe('BlockCutter', () => {
  it('cuts by count, whole batches only, in stream order', () => {
    const cutter = new BlockCutter(limits, genesisTip);
    cutter.addBatch(1n, batch(1, 2), 0);
    expect(cutter.shouldCut(10)).toBe(false);
    cutter.addBatch(2n, batch(3, 4), 5);
    cutter.addBatch(3n, batch(5), 6);
    expect(cutter.shouldCut(10)).toBe(true);
    const b1 = cutter.cut(1_000);
    expect(b1.height).toBe(1n);
    expect(b1.txs.map((t) => t.hash[0])).toEqual([1, 2, 3, 4]);
    expect(b1.lastTxStreamSeq).toBe(2n);
    expect(b1.txRoot).toEqual(transactionsRoot(b1.txs.map((t) => t.hash)));
    expect(cutter.shouldCut(1_050)).toBe(false);
    expect(cutter.shouldCut(1_100)).toBe(true);
    const b2 = cutter.cut(2_000);
    expect(b2.parentDigest).toEqual(b1.digest);
    expect(b2.lastTxStreamSeq).toBe(3n);
    expect(b2.timestamp).toBe(2n);
  });

  it('cuts by age and keeps timestamps monotonic', () => {
    const cutter = new BlockCutter(limits, { ...genesisTip, timestamp: 50n });
    cutter.addBatch(1n, batch(1), 0);
    expect(cutter.shouldCut(99)).toBe(false);
    expect(cutter.shouldCut(100)).toBe(true);
    expect(cutter.cut(100).timestamp).toBe(50n);
  });

  it('is deterministic: the same batches and times give the same blocks', () => {
    const run = () => {
      const c = new BlockCutter(limits, genesisTip);
      c.addBatch(1n, batch(1, 2, 3), 0);
      c.addBatch(2n, batch(4, 5), 0);
      return [c.cut(5000), c.cut(6000)].map((b) => b.digest.toString('hex'));
    };
    expect(run()).toEqual(run());
  });

  it('drops transactions already ordered and batches already consumed', () => {
    const cutter = new BlockCutter(limits, { ...genesisTip, lastTxStreamSeq: 5n });
    cutter.addBatch(5n, batch(9), 0); // at or below the tip: consumed before a restart
    expect(cutter.pendingTxCount).toBe(0);
    cutter.addBatch(6n, batch(1, 2), 0);
    cutter.cut(0);
    cutter.addBatch(7n, batch(2, 3, 3), 0);
    const b = cutter.cut(0);
    expect(b.txs.map((t) => t.hash[0])).toEqual([3]);
    expect(cutter.duplicates).toBe(2);
  });

  it('drops a transaction waiting in an earlier batch not yet cut (submitted twice, through two ingresses)', () => {
    const cutter = new BlockCutter(limits, genesisTip);
    cutter.addBatch(1n, batch(1, 2), 0);
    cutter.addBatch(2n, batch(2, 4, 4), 0);
    expect(cutter.pendingTxCount).toBe(3);
    expect(cutter.duplicates).toBe(2);
    const txs = [...cutter.cut(0).txs, ...(cutter.pendingTxCount > 0 ? cutter.cut(0).txs : [])];
    expect(txs.map((t) => t.hash[0])).toEqual([1, 2, 4]);
    cutter.addBatch(3n, batch(4, 5), 0); // ordered by now: remembered in the window
    expect(cutter.cut(0).txs.map((t) => t.hash[0])).toEqual([5]);
  });

  it('a single batch larger than a block still makes progress', () => {
    const cutter = new BlockCutter(limits, genesisTip);
    cutter.addBatch(1n, batch(1, 2, 3, 4, 5, 6), 0);
    expect(cutter.cut(0).txs).toHaveLength(6);
  });

  it('cuts an empty block only when idle and nothing is pending', () => {
    const cutter = new BlockCutter(limits, genesisTip);
    expect(cutter.shouldCutEmpty(1_000, 0, 1_000)).toBe(true);
    expect(cutter.shouldCutEmpty(999, 0, 1_000)).toBe(false);
    expect(cutter.shouldCutEmpty(5_000, 0, 0)).toBe(false);
    const empty = cutter.cut(1_000, true);
    expect(empty.txs).toHaveLength(0);
    expect(empty.height).toBe(1n);
    cutter.addBatch(1n, batch(1), 1_000);
    expect(cutter.shouldCutEmpty(9_000, 0, 1_000)).toBe(false);
  });

  it('refuses batches out of stream order', () => {
    const cutter = new BlockCutter(limits, genesisTip);
    cutter.addBatch(2n, batch(1), 0);
    expect(() => cutter.addBatch(2n, batch(2), 0)).toThrow(/stream order/);
  });
});

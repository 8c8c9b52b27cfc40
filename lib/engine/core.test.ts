import { describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { deriveAccount, signEip1559 } from '../workloads/index.js';
import { accountKey, storageKey } from '../state/keys.js';
import { BlockMemory } from './blockMemory.js';
import { longestChain, topKeys } from './conflictReport.js';
import { HotKeyTracker } from './hotKeys.js';
import { planPartitions, txShape } from './partition.js';
import { validateReadSet } from './validate.js';

const accounts = Array.from({ length: 6 }, (_, i) => deriveAccount('core', i));
const to = (n: number): Buffer => Buffer.alloc(20, n);
function tx(sender: number, nonce: number, recipient: Buffer): Tx {
  const s = signEip1559({ chainId: 1n, nonce: BigInt(nonce), maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21_000n, to: recipient, value: 1n, data: new Uint8Array(0) }, accounts[sender]!);
  return { raw: s.raw, hash: s.hash, sender: s.sender };
}

describe('planPartitions', () => {
  it('keeps one sender together, in block order, and spreads the rest', () => {
    const txs = [tx(0, 0, to(1)), tx(1, 0, to(2)), tx(0, 1, to(3)), tx(2, 0, to(4)), tx(3, 0, to(5)), tx(1, 1, to(6))];
    const plan = planPartitions(txs, 2, { hotAddresses: new Set() });
    expect(plan.partitions.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    const home = (i: number) => plan.partitions.findIndex((p) => p.includes(i));
    expect(home(0)).toBe(home(2));
    expect(home(1)).toBe(home(5));
    for (const p of plan.partitions) expect(p).toEqual([...p].sort((a, b) => a - b));
    expect(plan.partitions.length).toBe(2);
  });

  it('groups every tx on a hot address', () => {
    const hot = to(9);
    const txs = [0, 1, 2, 3, 4].map((s) => tx(s, 0, hot));
    const plan = planPartitions(txs, 4, { hotAddresses: new Set([hot.toString('hex')]) });
    expect(plan.partitions).toEqual([[0, 1, 2, 3, 4]]);
    expect(plan.largestGroup).toBe(5);
  });

  it('is deterministic and reads `to` from the RLP', () => {
    const txs = [0, 1, 2, 3, 4, 5].map((s) => tx(s, 0, to(s + 1)));
    expect(planPartitions(txs, 3, { hotAddresses: new Set() })).toEqual(planPartitions(txs, 3, { hotAddresses: new Set() }));
    expect(txShape(txs[0]!.raw).to).toBe(to(1).toString('hex'));
  });
});

describe('validateReadSet and BlockMemory', () => {
  it('accepts reads of the latest committed version and rejects stale ones', async () => {
    const memory = new BlockMemory(() => null);
    const k = accountKey(to(1));
    expect(validateReadSet([{ key: k, txIndex: -1, incarnation: 0 }], memory).valid).toBe(true);
    memory.commitWrites(3, 0, [[k, Buffer.alloc(72)]]);
    expect(validateReadSet([{ key: k, txIndex: -1, incarnation: 0 }], memory)).toMatchObject({ valid: false, conflictKey: k, expected: 3, seen: -1 });
    expect(validateReadSet([{ key: k, txIndex: 3, incarnation: 0 }], memory).valid).toBe(true);
    expect(validateReadSet([{ key: k, txIndex: 3, incarnation: 1 }], memory).valid).toBe(false);
    const credited = await memory.creditDelta(accountKey(to(2)), 4, 0, 7n);
    expect(credited.length).toBe(72);
    expect((memory.read(accountKey(to(2))) as { txIndex: number }).txIndex).toBe(4);
  });
});

describe('conflict report and hot keys', () => {
  it('measures the longest dependency chain and ranks keys', () => {
    expect(longestChain([[], [0], [1], [], [0, 2]])).toBe(4);
    expect(longestChain([])).toBe(0);
    expect(topKeys(new Map([['a', 1], ['b', 5], ['c', 5]]), 2)).toEqual([{ key: 'b', count: 5 }, { key: 'c', count: 5 }]);
  });

  it('learns hot addresses from repeated conflicts and forgets them', () => {
    const hot = new HotKeyTracker({ maxAddresses: 4, minShare: 0.1, minCount: 3, ttlBlocks: 2 });
    const slot = storageKey(to(7), Buffer.alloc(32, 1));
    hot.observe(1n, 20, new Map([[slot, 5], [accountKey(to(8)), 1]]), 6);
    expect([...hot.addresses()]).toEqual([to(7).toString('hex')]);
    expect(hot.conflictShare()).toBeCloseTo(0.3);
    hot.observe(5n, 20, new Map(), 0);
    expect(hot.addresses().size).toBe(0);
  });
});

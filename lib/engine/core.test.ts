import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { deriveAccount, signEip1559 } from '../workloads/index.js';
import { accountKey, decodeAccount, encodeAccount, EMPTY_CODE_HASH, storageKey } from '../state/keys.js';
import { BlockMemory } from './blockMemory.js';
import { longestChain, topKeys } from './conflictReport.js';
import { ContractCallCounter, HotKeyTracker } from './hotKeys.js';
import { SerialConflictCounter } from './serialConflicts.js';
import { txCallFields } from '../chain/txFields.js';
import { planPartitions, senderPartitions } from './partition.js';
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

  it('keeps a plain transfer with the txs of its recipient, and calls that share a learned affinity key', () => {
    // tx 1 pays account 0's address; account 0 sends tx 3: both write account 0.
    const txs = [tx(1, 0, to(1)), tx(2, 0, accounts[0]!.address), tx(3, 0, to(3)), tx(0, 0, to(4)), tx(4, 0, to(5)), tx(5, 0, to(6))];
    const home = (plan: { partitions: number[][] }, i: number): number => plan.partitions.findIndex((p) => p.includes(i));
    const plan = planPartitions(txs, 3, { hotAddresses: new Set() });
    expect(home(plan, 1)).toBe(home(plan, 3));
    expect(plan.largestGroup).toBe(2); // joined, not together by chance
    expect(home(plan, 0)).not.toBe(home(plan, 4));
    // An affinity hint (a learned `token:holder` name) joins txs 0 and 4.
    const hinted = planPartitions(txs, 3, { hotAddresses: new Set(), affinity: (i) => (i === 0 || i === 4 ? ['token:holder'] : []) });
    expect(home(hinted, 0)).toBe(home(hinted, 4));
    expect(hinted.largestGroup).toBe(2);
  });

  it('assigns senders round-robin for learning, one partition per sender', () => {
    const txs = [tx(0, 0, to(1)), tx(1, 0, to(2)), tx(0, 1, to(3)), tx(2, 0, to(4))];
    expect([...senderPartitions(txs, 2)]).toEqual([0, 1, 0, 0]);
  });

  it('tells apart senders whose first bytes are the same', () => {
    const sender = (last: number): Buffer => Buffer.concat([Buffer.from([7, 7, 7, 7]), Buffer.alloc(15), Buffer.from([last])]);
    const txs = [1, 2, 1, 3, 2, 3].map((last) => ({ raw: new Uint8Array(0), hash: Buffer.alloc(32), sender: sender(last) }) as Tx);
    expect([...senderPartitions(txs, 4)]).toEqual([0, 1, 0, 2, 1, 2]);
    expect([...senderPartitions(txs, 2)]).toEqual([0, 1, 0, 0, 1, 0]);
  });

  it('is deterministic and reads `to` from the RLP', () => {
    const txs = [0, 1, 2, 3, 4, 5].map((s) => tx(s, 0, to(s + 1)));
    expect(planPartitions(txs, 3, { hotAddresses: new Set() })).toEqual(planPartitions(txs, 3, { hotAddresses: new Set() }));
    expect(txCallFields(txs[0]!.raw).to?.toString('hex')).toBe(to(1).toString('hex'));
    expect(planPartitions(txs, 3, { hotAddresses: new Set() }).called[0]).toBe(to(1).toString('hex'));
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
  });

  it('folds fee credits into the account lazily: on a read, and at settle', async () => {
    const coinbase = accountKey(to(2));
    let baseReads = 0;
    const memory = new BlockMemory(async (key) => {
      baseReads++;
      return key === coinbase ? encodeAccount({ nonce: 1n, balance: 100n, codeHash: EMPTY_CODE_HASH }) : null;
    });
    memory.creditDelta(coinbase, 4, 0, 7n);
    memory.creditDelta(coinbase, 6, 1, 3n);
    // Validation sees the last credit's version without any value being computed.
    expect(memory.lastWrite(coinbase)).toMatchObject({ txIndex: 6, incarnation: 1 });
    expect(validateReadSet([{ key: coinbase, txIndex: 4, incarnation: 0 }], memory).valid).toBe(false);
    expect(baseReads).toBe(0);
    // A re-execution reads the folded value, at the last credit's version.
    const read = await memory.read(coinbase);
    expect(read).toMatchObject({ txIndex: 6, incarnation: 1 });
    expect(decodeAccount(read.value!)).toMatchObject({ nonce: 1n, balance: 110n });
    expect(baseReads).toBe(1);
    // It writes the account (paying its own fee directly); later credits fold over that write.
    memory.commitWrites(7, 1, [[coinbase, encodeAccount({ nonce: 2n, balance: 50n, codeHash: EMPTY_CODE_HASH })]]);
    memory.creditDelta(coinbase, 9, 0, 5n);
    memory.creditDelta(accountKey(to(3)), 9, 0, 1n);
    expect(() => memory.blockWrites()).toThrow(/before the credits were settled/);
    await memory.settle();
    expect(memory.lastWrite(coinbase)).toEqual({ txIndex: 9, incarnation: 0, value: expect.any(Buffer) });
    const writes = new Map(memory.blockWrites());
    expect(decodeAccount(writes.get(coinbase)!).balance).toBe(55n);
    expect(decodeAccount(writes.get(accountKey(to(3)))!).balance).toBe(1n);
    expect(baseReads).toBe(2);
    await memory.settle(); // nothing left to fold
    expect(baseReads).toBe(2);
  });

  it('refuses a write over credits that were never read (it would drop them)', () => {
    const memory = new BlockMemory(() => null);
    memory.creditDelta(accountKey(to(2)), 1, 0, 7n);
    expect(() => memory.commitWrites(2, 0, [[accountKey(to(2)), null]])).toThrow(/unfolded credits/);
  });
});

describe('conflict report and hot keys', () => {
  it('measures the longest dependency chain and ranks keys', () => {
    expect(longestChain([[], [0], [1], [], [0, 2]])).toBe(4);
    expect(longestChain([])).toBe(0);
    const [a, b, c] = [0xaa, 0xbb, 0xcc].map((n) => accountKey(Buffer.alloc(20, n)));
    // Spelled in hex for people; ties in key order.
    expect(topKeys(new Map([[a!, 1], [c!, 5], [b!, 5]]), 2)).toEqual([{ key: '01' + 'bb'.repeat(20), count: 5 }, { key: '01' + 'cc'.repeat(20), count: 5 }]);
  });

  it('learns hot addresses from repeated conflicts and forgets them', () => {
    const hot = new HotKeyTracker({ maxAddresses: 4, minShare: 0.1, minCount: 3, contractShare: 0.3, ttlBlocks: 2 });
    const slot = storageKey(to(7), Buffer.alloc(32, 1));
    hot.observe({ height: 1n, txs: 20, conflictingTxs: 6, conflicts: new Map([[slot, 5], [accountKey(to(8)), 1]]), contracts: new Map() });
    expect([...hot.addresses()]).toEqual([to(7).toString('hex')]);
    expect(hot.conflictShare()).toBeCloseTo(0.3);
    hot.observe({ height: 5n, txs: 20, conflictingTxs: 0, conflicts: new Map(), contracts: new Map() });
    expect(hot.addresses().size).toBe(0);
  });

  it('makes a called contract hot by the share of its own calls that conflicted, not of the block', () => {
    const hot = new HotKeyTracker({ maxAddresses: 4, minShare: 0.1, minCount: 3, contractShare: 0.3, ttlBlocks: 8 });
    const router = to(10).toString('hex');
    const token = to(11).toString('hex');
    // The router: 40 calls, 20 conflicted (on a pair's reserves, a key of another contract). The
    // token: 400 calls, 16 conflicted, scattered over holders (no key above minShare).
    const counter = new ContractCallCounter();
    for (let i = 0; i < 40; i++) counter.add(router, i % 2 === 0);
    for (let i = 0; i < 400; i++) counter.add(token, i % 25 === 0);
    counter.add(null, true);
    hot.observe({ height: 1n, txs: 441, conflictingTxs: 37, conflicts: new Map(), contracts: counter.contracts });
    expect([...hot.addresses()]).toEqual([router]);
    expect(counter.contracts.get(token)).toEqual({ calls: 400, conflicts: 16 });
  });
});

describe('SerialConflictCounter', () => {
  it('counts cross-partition reads as conflicts, same-partition reads and the coinbase as dependencies only', () => {
    const coinbase = accountKey(to(99));
    const partOf = Int32Array.from([0, 1, 0, 1]);
    const counter = new SerialConflictCounter(partOf, coinbase);
    const a = accountKey(to(1));
    const b = accountKey(to(2));
    counter.beginTx(0); counter.read(a, -1); expect(counter.endTx()).toBe(false);
    counter.beginTx(1); counter.read(a, 0); expect(counter.endTx()).toBe(true);   // written in partition 0
    counter.beginTx(2); counter.read(a, 0); counter.read(coinbase, 1); expect(counter.endTx()).toBe(false);
    counter.beginTx(3); counter.read(b, -1); expect(counter.endTx()).toBe(false);
    expect(counter.longestChain).toBe(2);
    expect(counter.conflicts).toEqual(new Map([[a, 1]]));
    expect(counter.unexplained).toEqual(new Map([[a, 1]]));
    expect(counter.conflictingTxs).toBe(1);
    expect(() => counter.beginTx(7)).toThrow(/out of order/);
  });

  it('finds the longest dependency chain as reads arrive, as longestChain does over the whole block', () => {
    const key = (k: number): string => accountKey(to(k));
    // Per tx, its reads: (key, writer), the writer an earlier tx or -1 (committed state).
    const blocks = fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(
      ...Array.from({ length: n }, (_, i) => fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -1, max: i - 1 })), { maxLength: 4 })),
    ));
    fc.assert(fc.property(blocks, fc.integer({ min: 1, max: 4 }), (reads, parts) => {
      const partOf = Int32Array.from(reads, (_, i) => i % parts);
      const counter = new SerialConflictCounter(partOf, key(99));
      reads.forEach((txReads, i) => {
        counter.beginTx(i);
        counter.readAll(new Map(txReads.map(([k, writer]) => [key(k), { value: null, txIndex: writer, incarnation: 0 }])));
        counter.endTx();
      });
      // A read-set has one entry per key; both sides keep the last pair generated for a key.
      const deps = reads.map((txReads) => [...new Map(txReads.map(([k, writer]) => [k, writer])).values()]);
      expect(counter.longestChain).toBe(longestChain(deps));
    }), { numRuns: 300 });
  });

  it('reports a conflict affinity explains but keeps it from hot-key learning', () => {
    const a = accountKey(to(1));
    const counter = new SerialConflictCounter(Int32Array.from([0, 1]), accountKey(to(99)), (reader, writer) => reader === 1 && writer === 0);
    counter.beginTx(0); counter.endTx();
    counter.beginTx(1); counter.read(a, 0);
    expect(counter.endTx()).toBe(false);
    expect(counter.conflicts.get(a)).toBe(1);
    expect(counter.unexplained.size).toBe(0);
    expect(counter.conflictingTxs).toBe(1);
  });
});

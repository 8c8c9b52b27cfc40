import { describe, expect, it } from 'vitest';
import { CommittedStateCache } from './committedState.js';
import { KeyFilter } from '../state/keyFilter.js';
import type { StateKey } from '../state/keys.js';

const A = 'aa' as StateKey;
const B = 'bb' as StateKey;
const C = 'cc' as StateKey;

/** A versioned store the cache reads from: every fetch is logged with its height. */
function store(): { versions: Map<bigint, Map<StateKey, Buffer | null>>; fetches: Array<{ keys: StateKey[]; height: bigint }>; cache: (max?: number) => CommittedStateCache } {
  const versions = new Map<bigint, Map<StateKey, Buffer | null>>();
  const fetches: Array<{ keys: StateKey[]; height: bigint }> = [];
  const valueAt = (key: StateKey, height: bigint): Buffer | null => {
    for (let h = height; h >= 0n; h--) {
      const v = versions.get(h);
      if (v?.has(key) === true) return v.get(key)!;
    }
    return null;
  };
  const cache = (max = 100): CommittedStateCache => new CommittedStateCache(async (keys, height) => {
    if (!versions.has(height)) throw new Error(`height ${height} is not committed yet`);
    fetches.push({ keys: [...keys], height });
    return keys.map((k) => valueAt(k, height));
  }, max);
  return { versions, fetches, cache };
}

const v = (s: string): Buffer => Buffer.from(s);

describe('CommittedStateCache with an executed block not yet committed', () => {
  it('reads what the block did not write one height down, and its own writes from the block', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')], [B, v('b0')], [C, v('c0')]]));
    const cache = s.cache();
    cache.reset(0n);
    // Block 1 executed (A changed, B deleted); its commit has not landed, so height 1 is unreadable.
    cache.applyExecuted(1n, [[A, v('a1')], [B, null]]);
    expect(cache.height).toBe(1n);
    expect(cache.unconfirmed).toBe(true);
    expect(cache.peek(A, 1n)).toEqual(v('a1'));
    expect(cache.peek(B, 1n)).toBeNull();
    expect(await cache.load([C], 1n)).toEqual([v('c0')]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C], height: 0n });
    // Confirmed: misses go to height 1 itself.
    s.versions.set(1n, new Map([[A, v('a1')], [B, null]]));
    cache.applyCommitted(1n, [[A, v('a1')], [B, null]]);
    expect(cache.unconfirmed).toBe(false);
    cache.reset(1n);
    expect(await cache.load([C, A], 1n)).toEqual([v('c0'), v('a1')]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C, A], height: 1n });
  });

  it('answers the block\'s own writes even when the bound evicted them, without asking the store for them', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')], [B, v('b0')], [C, v('c0')]]));
    const cache = s.cache(2);
    cache.reset(0n);
    cache.applyExecuted(1n, [[A, v('a1')], [B, v('b1')]]);
    // Loading C overflows the bound of 2: the cache starts over, the block's writes with it.
    expect(await cache.load([C], 1n)).toEqual([v('c0')]);
    expect(cache.peek(A, 1n)).toBeUndefined();
    expect(await cache.load([A, C, B], 1n)).toEqual([v('a1'), v('c0'), v('b1')]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C], height: 0n });
  });

  it('after a gap holds just the executed block, still reading the rest one height down', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')], [C, v('c0')]]));
    s.versions.set(1n, new Map([[C, v('c1')]]));
    const cache = s.cache();
    cache.reset(0n);
    cache.applyCommitted(0n, []);
    cache.applyExecuted(2n, [[A, v('a2')]]);
    expect(cache.height).toBe(2n);
    expect(cache.peek(C, 2n)).toBeUndefined();
    expect(await cache.load([C], 2n)).toEqual([v('c1')]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C], height: 1n });
  });

  it('takes the next executed block once the one before has committed, whichever message comes first', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')], [B, v('b0')], [C, v('c0')]]));
    const cache = s.cache();
    cache.reset(0n);
    cache.applyExecuted(1n, [[A, v('a1')]]);
    // Block 1 committed, but its commit message is late; block 2's writes arrive first.
    s.versions.set(1n, new Map([[A, v('a1')]]));
    cache.applyExecuted(2n, [[B, v('b2')]]);
    cache.applyCommitted(1n, [[A, v('a1')]]); // late: changes nothing
    expect(cache.unconfirmed).toBe(true);
    expect(await cache.load([C], 2n)).toEqual([v('c0')]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C], height: 1n });
    expect(cache.peek(A, 2n)).toEqual(v('a1'));
    expect(cache.peek(B, 2n)).toEqual(v('b2'));
    cache.applyCommitted(2n, [[B, v('b2')]]);
    expect(cache.unconfirmed).toBe(false);
  });
});

describe('CommittedStateCache with a key filter', () => {
  const D = 'dd' as StateKey;
  const filterAt = (height: bigint, keys: StateKey[]): KeyFilter => {
    const f = KeyFilter.create(100, height);
    for (const k of keys) f.add(k);
    return f;
  };

  it('answers a key never written as absent without a read, and reads keys written later', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')]]));
    const cache = s.cache();
    cache.reset(0n);
    expect(cache.setKeyFilter(filterAt(0n, [A]))).toBe(true);
    expect(cache.peek(B, 0n)).toBeNull(); // never written: absent, no read
    expect(await cache.load([A, C], 0n)).toEqual([v('a0'), null]);
    expect(s.fetches).toEqual([{ keys: [A], height: 0n }]);
    // Block 1 writes C: from now on C may exist, and is read.
    s.versions.set(1n, new Map([[C, v('c1')]]));
    cache.applyCommitted(1n, [[C, v('c1')]]);
    cache.reset(1n); // drop cached values, keep the filter
    expect(cache.filter?.height).toBe(1n);
    expect(await cache.load([C, D], 1n)).toEqual([v('c1'), null]);
    expect(s.fetches.at(-1)).toEqual({ keys: [C], height: 1n });
    expect(cache.stats().absentByFilter).toBe(3);
  });

  it('drops the filter after a gap, and catches up a lagging one from the recent blocks', async () => {
    const s = store();
    s.versions.set(0n, new Map([[A, v('a0')]]));
    s.versions.set(1n, new Map([[B, v('b1')]]));
    s.versions.set(2n, new Map([[C, v('c2')]]));
    const cache = s.cache();
    cache.reset(0n);
    cache.applyCommitted(1n, [[B, v('b1')]]);
    cache.applyCommitted(2n, [[C, v('c2')]]);
    // Fetched at height 0 while the cache moved to 2: blocks 1 and 2 are replayed into it.
    expect(cache.setKeyFilter(filterAt(0n, [A]))).toBe(true);
    expect(cache.filter?.height).toBe(2n);
    cache.reset(2n);
    expect(await cache.load([B, C, D], 2n)).toEqual([v('b1'), v('c2'), null]);
    // More than the kept blocks behind: refused.
    for (let h = 3n; h <= 12n; h++) {
      s.versions.set(h, new Map());
      cache.applyCommitted(h, []);
    }
    expect(cache.setKeyFilter(filterAt(1n, [A, B]))).toBe(false);
    // A gap (block 14 without 13) drops the one in use: it would miss 13's keys.
    cache.applyCommitted(14n, [[D, v('d14')]]);
    expect(cache.filter).toBeNull();
  });
});

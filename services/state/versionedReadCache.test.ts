import { describe, expect, it } from 'vitest';
import { VersionedReadCache } from './versionedReadCache.js';

describe('VersionedReadCache', () => {
  it('answers only heights it knows, follows own commits, drops everything when the height moves without it', () => {
    const cache = new VersionedReadCache(4);
    expect(cache.get('k', 0n)).toBeUndefined();
    cache.observeCommitted(5n);
    cache.remember('a', 5n, Buffer.from('a3'), 3n);
    cache.remember('b', 4n, Buffer.from('b'), 1n); // read at an older height: not kept
    expect(cache.get('a', 5n)).toEqual(Buffer.from('a3'));
    expect(cache.get('a', 3n)).toEqual(Buffer.from('a3'));
    expect(cache.get('a', 2n)).toBeUndefined(); // older than the version found
    expect(cache.get('b', 5n)).toBeUndefined();
    cache.applyCommit(6n, [{ key: 'a', value: null }]);
    expect(cache.get('a', 6n)).toBeNull();
    expect(cache.get('a', 5n)).toBeUndefined();
    cache.observeCommitted(8n); // someone else committed 7 and 8
    expect(cache.size).toBe(0);
    expect(cache.get('c', 8n)).toBeUndefined();
  });

  it('keeps at most maxEntries: what was not read since the last turnover goes first', () => {
    const cache = new VersionedReadCache(4); // two generations of 2
    cache.observeCommitted(1n);
    cache.remember('a', 1n, Buffer.from('a'), 1n);
    cache.remember('b', 1n, Buffer.from('b'), 1n); // the recent generation is full: it becomes the older one
    expect(cache.get('a', 1n)).toEqual(Buffer.from('a')); // read: back into the recent generation
    cache.remember('c', 1n, Buffer.from('c'), 1n); // full again: 'b', not read since, is dropped
    expect(cache.get('b', 1n)).toBeUndefined();
    expect(cache.get('a', 1n)).toEqual(Buffer.from('a'));
    expect(cache.get('c', 1n)).toEqual(Buffer.from('c'));
    for (let i = 0; i < 100; i++) {
      cache.remember(`k${i}`, 1n, null, -1n);
      expect(cache.size).toBeLessThanOrEqual(4);
    }
    cache.applyCommit(2n, Array.from({ length: 10 }, (_, i) => ({ key: `w${i}`, value: Buffer.from([i]) })));
    expect(cache.size).toBeLessThanOrEqual(4);
    expect(cache.get('w9', 2n)).toEqual(Buffer.from([9])); // the last writes of a commit stay
  });

  it('keeps nothing with maxEntries 0, and one entry with 1', () => {
    const none = new VersionedReadCache(0);
    none.observeCommitted(1n);
    none.remember('a', 1n, Buffer.from('a'), 1n);
    none.applyCommit(2n, [{ key: 'b', value: Buffer.from('b') }]);
    expect(none.size).toBe(0);
    const one = new VersionedReadCache(1);
    one.observeCommitted(1n);
    one.remember('a', 1n, Buffer.from('a'), 1n);
    one.remember('b', 1n, Buffer.from('b'), 1n);
    expect(one.size).toBe(1);
    expect(one.get('b', 1n)).toEqual(Buffer.from('b'));
  });
});

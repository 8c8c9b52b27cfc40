import { describe, expect, it } from 'vitest';
import { VersionedReadCache } from './versionedReadCache.js';

describe('VersionedReadCache', () => {
  it('answers only heights it knows, follows own commits, drops everything when the height moves without it', () => {
    const cache = new VersionedReadCache(2);
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
    cache.remember('c', 6n, Buffer.from('c'), -1n);
    cache.remember('d', 6n, Buffer.from('d'), -1n); // evicts the least recently used ('a')
    expect(cache.size).toBe(2);
    expect(cache.get('a', 6n)).toBeUndefined();
    cache.observeCommitted(8n); // someone else committed 7 and 8
    expect(cache.size).toBe(0);
    expect(cache.get('c', 8n)).toBeUndefined();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyFilter, KeyHashes, MIN_FILTER_KEYS } from './keyFilter.js';
import { keyFromHex, type StateKey } from './keys.js';

const storageKey = (n: number): StateKey => keyFromHex('02' + 'ab'.repeat(20) + n.toString(16).padStart(64, '0'));

describe('KeyFilter', () => {
  it('never says "never written" of a key it was given, across a copy', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 20, maxLength: 52 }), { maxLength: 300 }), (raw) => {
      const keys = raw.map((b) => keyFromHex('02' + Buffer.from(b).toString('hex')));
      const filter = KeyFilter.create(1_000, 5n);
      for (const k of keys) filter.add(k);
      const copy = KeyFilter.from(filter.data());
      for (const k of keys) {
        expect(filter.mayContain(k)).toBe(true);
        expect(copy.mayContain(k)).toBe(true);
      }
    }), { numRuns: 50 });
  });

  it('keeps false positives near 1 % at capacity, and counts distinct keys only', () => {
    const filter = KeyFilter.create(MIN_FILTER_KEYS, 0n);
    for (let i = 0; i < MIN_FILTER_KEYS; i++) filter.add(storageKey(i));
    expect(filter.added).toBeGreaterThan(MIN_FILTER_KEYS * 0.99); // a few keys may find all their bits set already
    const added = filter.added;
    for (let i = 0; i < 1_000; i++) filter.add(storageKey(i));
    expect(filter.added).toBe(added);
    expect(filter.full).toBe(false);
    let positives = 0;
    for (let i = 0; i < 20_000; i++) if (filter.mayContain(storageKey(10_000_000 + i))) positives++;
    expect(positives / 20_000).toBeLessThan(0.02);
    for (let i = 0; i < 2_000; i++) filter.add(storageKey(MIN_FILTER_KEYS + i));
    expect(filter.full).toBe(true);
  });

  it('takes blocks in order only, and sizes itself for at least MIN_FILTER_KEYS', () => {
    const filter = KeyFilter.create(10, 3n);
    expect(filter.capacity).toBe(MIN_FILTER_KEYS);
    expect(KeyFilter.bytesFor(10)).toBe(filter.data().bits.length);
    expect(filter.addBlock(5n, [storageKey(1)])).toBe(false); // a gap
    expect(filter.mayContain(storageKey(1))).toBe(false);
    expect(filter.addBlock(4n, [storageKey(1)])).toBe(true);
    expect(filter.height).toBe(4n);
    expect(filter.mayContain(storageKey(1))).toBe(true);
  });

  it('takes keys as their hashes, collected before its size is known, bounded', () => {
    const hashes = new KeyHashes(5_000);
    for (let i = 0; i < 5_000; i++) expect(hashes.add(storageKey(i))).toBe(true); // grows past its first 1,024
    expect(hashes.add(storageKey(5_000))).toBe(false);
    expect(hashes.length).toBe(5_000);
    const byKey = KeyFilter.create(10_000, 0n);
    for (let i = 0; i < 5_000; i++) byKey.add(storageKey(i));
    const byHashes = KeyFilter.create(10_000, 0n);
    byHashes.addAll(hashes);
    expect(Buffer.from(byHashes.data().bits).equals(Buffer.from(byKey.data().bits))).toBe(true);
    expect(byHashes.added).toBe(byKey.added);
  });
});

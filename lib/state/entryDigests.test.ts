import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { keyFromHex, keyToBytes } from './keys.js';
import { describe, expect, it } from 'vitest';
import { EntryDigests, MAX_REMEMBERED_INPUT } from './entryDigests.js';
import { FOLD_IN_WASM, foldDigests, foldInJs } from './latticeFold.js';

const input = (n: number, length = 89): Buffer => {
  const b = Buffer.alloc(length, 7);
  b.writeUInt32BE(n, length - 4);
  return b;
};
const digest = (n: number): Buffer => createHash('shake256', { outputLength: 2048 }).update(input(n)).digest();

describe('EntryDigests', () => {
  it('finds a digest only by its exact input, and counts only the lookups asked to', () => {
    const digests = new EntryDigests(8);
    expect(digests.get(input(1))).toBeUndefined();
    digests.put(input(1), digest(1));
    expect(Buffer.from(digests.get(input(1))!).equals(digest(1))).toBe(true);
    expect(digests.get(input(2))).toBeUndefined(); // one byte differs
    expect(digests.get(input(1, 90))).toBeUndefined(); // a longer input
    expect(digests.get(input(1), false)).toBeDefined();
    expect([digests.hits, digests.misses]).toEqual([1, 3]);
    // A put after the miss of the same input object, and a put of an input already there.
    const again = input(2);
    expect(digests.get(again, false)).toBeUndefined();
    digests.put(again, digest(2));
    digests.put(input(2), digest(2));
    expect(digests.size).toBe(2);
    expect(() => digests.put(input(3), Buffer.alloc(10))).toThrow(/2048 bytes/);
  });

  it('finds an entry of a state key by its key: a key\'s new entry takes the place of its old one', () => {
    const entry = (key: string, value: number): Buffer => {
      const keyBytes = keyToBytes(key);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(keyBytes.length, 0);
      return Buffer.concat([length, keyBytes, Buffer.alloc(32, value)]);
    };
    const slot = keyFromHex('02' + '22'.repeat(20) + '00'.repeat(31) + '01'); // a fixed slot: its last bytes are a small number
    const other = keyFromHex('02' + '33'.repeat(20) + '00'.repeat(31) + '01'); // the same slot of another contract
    const account = keyFromHex('01' + '44'.repeat(20));
    const digests = new EntryDigests(8);
    for (const [k, v] of [[slot, 1], [other, 1], [account, 1]] as const) digests.put(entry(k, v), digest(v));
    for (const k of [slot, other, account]) expect(digests.get(entry(k, 1), false)).toBeDefined();
    digests.put(entry(slot, 2), digest(2));
    expect(digests.get(entry(slot, 1), false)).toBeUndefined(); // left the state
    expect(Buffer.from(digests.get(entry(slot, 2), false)!).equals(digest(2))).toBe(true);
    expect(digests.get(entry(other, 1), false)).toBeDefined();
  });

  it('keeps at most `capacity` digests, the most recent ones, across slab chunks', () => {
    const capacity = 1_500; // more than one chunk of 1,024 slots
    const digests = new EntryDigests(capacity);
    const small = (n: number): Buffer => Buffer.alloc(2048, n % 251);
    for (let n = 0; n < 2 * capacity + 7; n++) digests.put(input(n), small(n));
    expect(digests.size).toBe(capacity);
    for (let n = 0; n < capacity + 7; n++) expect(digests.get(input(n), false)).toBeUndefined();
    for (let n = capacity + 7; n < 2 * capacity + 7; n++) expect(Buffer.from(digests.get(input(n), false)!).equals(small(n))).toBe(true);
  });

  it('does not remember inputs longer than MAX_REMEMBERED_INPUT (code entries)', () => {
    const digests = new EntryDigests(4);
    digests.put(input(1, MAX_REMEMBERED_INPUT + 1), digest(1));
    expect(digests.size).toBe(0);
    expect(digests.get(input(1, MAX_REMEMBERED_INPUT + 1))).toBeUndefined();
    expect(() => new EntryDigests(0)).toThrow(/capacity/);
  });
});

describe('foldDigests', () => {
  it('runs in WebAssembly SIMD here, and folds as lane-wise arithmetic mod 2^16, as its JavaScript fallback does', () => {
    expect(FOLD_IN_WASM).toBe(true);
    fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 0xffff }), (hasOut, hasIn, start) => {
      const lanes = new Uint16Array(1024).map((_, i) => (start + i * 977) & 0xffff);
      const out = randomBytes(2048);
      const into = randomBytes(2048);
      const expected = lanes.map((v, i) => (v - (hasOut ? out.readUInt16LE(2 * i) : 0) + (hasIn ? into.readUInt16LE(2 * i) : 0)) & 0xffff);
      const inJs = Uint16Array.from(lanes);
      foldDigests(lanes, hasOut ? out : null, hasIn ? into : null);
      foldInJs(inJs, hasOut ? out : null, hasIn ? into : null);
      expect(Buffer.from(lanes.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(Buffer.from(inJs.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }), { numRuns: 50 });
    // A lattice that is a view at an offset of a larger buffer.
    const backing = new Uint16Array(1026);
    const view = backing.subarray(1, 1025);
    foldDigests(view, null, Buffer.alloc(2048, 1));
    expect([backing[0], view[0], view[1023], backing[1025]]).toEqual([0, 0x0101, 0x0101, 0]);
  });
});

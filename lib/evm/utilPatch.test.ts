// The patched @ethereumjs/util conversions (patches/README.md) against the stock algorithms, written
// out here: the EVM converts every storage key and value, log topic and word it writes through them.
import { bigIntToBytes, setLengthLeft, setLengthRight } from '@ethereumjs/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** The stock bigIntToBytes: big-endian hex digits, padded to whole bytes. */
function stockBigIntToBytes(num: bigint, littleEndian = false): Uint8Array {
  const hex = num.toString(16);
  const bytes = new Uint8Array(Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex'));
  return littleEndian ? bytes.reverse() : bytes;
}

const edges: bigint[] = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x100n, 0xffffn, 0x10000n, 0xffffffn, 0x1000000n, 0xffffffffn, 0x100000000n,
  0xfffffffffn, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 128n + 1n, 2n ** 255n, 2n ** 256n - 1n, 2n ** 256n, 2n ** 300n + 7n];

describe('patched @ethereumjs/util', () => {
  it('is the patched one (patch-package applied it)', () => {
    expect(bigIntToBytes.toString()).toContain('Lanes patch');
  });

  it('bigIntToBytes gives the stock bytes, both byte orders, at every length boundary and over random 256-bit values', () => {
    for (const n of edges) {
      expect(bigIntToBytes(n)).toEqual(stockBigIntToBytes(n));
      expect(bigIntToBytes(n, true)).toEqual(stockBigIntToBytes(n, true));
    }
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), fc.boolean(), (n, le) => {
      const got = bigIntToBytes(n, le);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(got)).toBe(false);
      expect(got).toEqual(stockBigIntToBytes(n, le));
    }), { numRuns: 2000 });
  });

  it('bigIntToBytes returns arrays of their own (a word is written into scratch, then copied out)', () => {
    const first = bigIntToBytes(2n ** 200n + 3n);
    const second = bigIntToBytes(2n ** 255n);
    first.fill(0xee);
    expect(second).toEqual(stockBigIntToBytes(2n ** 255n));
    expect(bigIntToBytes(2n ** 200n + 3n)).toEqual(stockBigIntToBytes(2n ** 200n + 3n));
    expect(first.buffer).not.toBe(second.buffer);
  });

  it('bigIntToBytes still refuses a negative value', () => {
    expect(() => bigIntToBytes(-1n)).toThrow();
  });

  it('setLengthLeft and setLengthRight pad into a new array of exactly the length, and leave longer or equal input as before', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 40 }), (msg, length) => {
      if (msg.length > length) {
        expect(() => setLengthLeft(msg, length)).toThrow();
        expect(setLengthLeft(msg, length, { allowTruncate: true })).toEqual(msg.subarray(-length)); // the stock code path, unpatched (subarray(-0) is the whole input)
        return;
      }
      const left = setLengthLeft(msg, length);
      const right = setLengthRight(msg, length);
      const zeros = new Uint8Array(length - msg.length);
      expect(left).toEqual(new Uint8Array([...zeros, ...msg]));
      expect(right).toEqual(new Uint8Array([...msg, ...zeros]));
      if (msg.length < length) {
        expect(left.buffer).not.toBe(msg.buffer);
        expect(Buffer.isBuffer(left)).toBe(false);
      } else {
        expect(left).toBe(msg);
      }
    }), { numRuns: 1000 });
  });
});

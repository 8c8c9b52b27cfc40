import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  accountHasCode, accountKey, addressPart, bytesToBigint, codeKey, decodeAccount, EMPTY_CODE_HASH, encodeAccount, KEY_ACCOUNT, KEY_CODE,
  KEY_STORAGE, keyAddress, keyFromBytes, keyFromHex, keyFromRange, keyHex, keyKind, keySlot, keySlotPart, keyToBytes,
  readUintBE, StateKeyBytes, storageKey, writeKey, writeUintBE,
} from './keys.js';

describe('key spelling', () => {
  it('gives one character per byte, the kind byte first, for any bytes, and keyFromBytes of any length', () => {
    const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
    for (let i = 0; i < 500; i++) {
      const address = randomBytes(20);
      const slot = randomBytes(32);
      expect(accountKey(address)).toBe('\x01' + latin1(address));
      expect(storageKey(address, slot)).toBe('\x02' + latin1(address) + latin1(slot));
      expect(codeKey(slot)).toBe('\x03' + latin1(slot));
      expect(keyToBytes(storageKey(address, slot))).toEqual(Buffer.concat([Buffer.from([2]), address, slot]));
      expect(keyHex(accountKey(address))).toBe('01' + address.toString('hex'));
      expect(keyFromHex(keyHex(codeKey(slot)))).toBe(codeKey(slot));
      const raw = randomBytes(i % 70); // past 53 bytes, the longest key, too
      expect(keyFromBytes(raw)).toBe(latin1(raw));
      expect(keyToBytes(keyFromBytes(raw))).toEqual(raw);
      const at = i % 5;
      const around = Buffer.concat([randomBytes(at), raw, randomBytes(3)]);
      expect(keyFromRange(around, at, at + raw.length)).toBe(latin1(raw));
      expect(keyFromRange(new Uint8Array(around), at, at + raw.length)).toBe(latin1(raw)); // not only Buffers
      const out = Buffer.alloc(raw.length + 2, 0xee);
      expect(writeKey(keyFromBytes(raw), out, 1)).toBe(raw.length + 1);
      expect(out.subarray(1, raw.length + 1)).toEqual(raw);
      expect(out[raw.length + 1]).toBe(0xee);
    }
    // A key made right after another is not a view of the same scratch bytes.
    const a = accountKey(Buffer.alloc(20, 0xab));
    accountKey(Buffer.alloc(20, 0xcd));
    expect(keyHex(a)).toBe('01' + 'ab'.repeat(20));
    expect(() => accountKey(Buffer.alloc(19))).toThrow(/20 bytes/);
    expect(() => keyFromHex('0')).toThrow(/not hex/);
    expect(() => keyFromHex('zz')).toThrow(/not hex/);
  });

  it('reads the kind, address and slot back, and orders keys as their bytes', () => {
    const address = randomBytes(20);
    const slot = randomBytes(32);
    const key = storageKey(address, slot);
    expect(keyKind(key)).toBe(KEY_STORAGE);
    expect(keyKind(accountKey(address))).toBe(KEY_ACCOUNT);
    expect(keyKind(codeKey(slot))).toBe(KEY_CODE);
    expect(keyAddress(key)).toEqual(address);
    expect(keyAddress(accountKey(address))).toEqual(address);
    expect(keySlot(key)).toEqual(slot);
    expect(keySlotPart(key)).toBe(slot.toString('latin1'));
    expect(key.startsWith('\x02' + addressPart(address))).toBe(true);
    fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ minLength: 20, maxLength: 20 }), (x, y) => {
      const byBytes = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const a = accountKey(x);
      const b = accountKey(y);
      expect(a < b ? -1 : a > b ? 1 : 0).toBe(byBytes);
    }), { numRuns: 500 });
  });
});

describe('StateKeyBytes', () => {
  it('gives the bytes keyToBytes gives, the same Buffer for a key seen before, and starts over past its bound', () => {
    const memo = new StateKeyBytes(2);
    const a = accountKey(Buffer.alloc(20, 0xaa));
    const b = storageKey(Buffer.alloc(20, 0xbb), Buffer.alloc(32, 0x01));
    const c = accountKey(Buffer.alloc(20, 0xcc));
    const first = memo.bytes(a);
    expect(first).toEqual(keyToBytes(a));
    expect(keyFromBytes(first)).toBe(a);
    expect(memo.bytes(accountKey(Buffer.alloc(20, 0xaa)))).toBe(first); // an equal key made anew
    expect(memo.bytes(b)).toEqual(keyToBytes(b));
    expect(memo.bytes(c)).toEqual(keyToBytes(c)); // third key: the memo was full and starts over
    expect(memo.bytes(a)).not.toBe(first);
    expect(memo.bytes(a)).toEqual(first);
    expect(() => new StateKeyBytes(0)).toThrow(/maxEntries/);
  });
});

describe('accountHasCode', () => {
  it('reads the code hash in place', () => {
    expect(accountHasCode(encodeAccount({ nonce: 3n, balance: 10n ** 20n, codeHash: EMPTY_CODE_HASH }))).toBe(false);
    expect(accountHasCode(encodeAccount({ nonce: 1n, balance: 0n, codeHash: Buffer.alloc(32, 0x5a) }))).toBe(true);
    expect(() => accountHasCode(Buffer.alloc(10))).toThrow(/72 bytes/);
  });
});

describe('big-endian integers', () => {
  const hex = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));

  it('readUintBE and bytesToBigint read any length at any offset as the hex route does', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(40), fc.nat(40), (bytes, a, b) => {
      const offset = Math.min(a, bytes.length);
      const length = Math.min(b, bytes.length - offset);
      const view = bytes.subarray(offset, offset + length);
      expect(readUintBE(bytes, offset, length)).toBe(hex(view));
      // A view into a larger buffer, as RLP's fields are.
      expect(bytesToBigint(view)).toBe(hex(view));
    }), { numRuns: 2000 });
    // Every length up to 40, with its top bits set (fast-check favours short arrays).
    for (let length = 0; length <= 40; length++) {
      for (let k = 0; k < 20; k++) {
        const bytes = randomBytes(length + 3);
        bytes[1] = 0xff;
        expect(readUintBE(bytes, 1, length)).toBe(hex(bytes.subarray(1, 1 + length)));
      }
    }
  });

  it('writeUintBE fills the whole width, zeros in front, and refuses what does not fit', () => {
    const widths = [1, 5, 6, 7, 8, 12, 13, 20, 32];
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.constantFrom(...widths), fc.nat(3), (value, width, offset) => {
      const out = new Uint8Array(offset + width + 2).fill(0xee);
      const fits = value < 1n << BigInt(8 * width);
      if (!fits) {
        expect(() => writeUintBE(value, out, offset, width)).toThrow(/does not fit/);
        return;
      }
      writeUintBE(value, out, offset, width);
      expect(readUintBE(out, offset, width)).toBe(value);
      expect(Buffer.from(out.subarray(offset, offset + width)).toString('hex')).toBe(value.toString(16).padStart(2 * width, '0'));
      // Nothing outside the field is touched.
      expect([...out.subarray(0, offset), ...out.subarray(offset + width)].every((x) => x === 0xee)).toBe(true);
    }), { numRuns: 3000 });
    for (const value of [0n, 255n, 256n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 256n - 1n]) {
      const out = Buffer.alloc(32);
      writeUintBE(value, out, 0, 32);
      expect(bytesToBigint(out)).toBe(value);
    }
    expect(() => writeUintBE(-1n, Buffer.alloc(8), 0, 8)).toThrow(/negative/);
    expect(() => writeUintBE(2n ** 64n, Buffer.alloc(8), 0, 8)).toThrow(/does not fit/);
    expect(() => writeUintBE(256n, Buffer.alloc(1), 0, 1)).toThrow(/does not fit/);
  });

  it('encodeAccount and decodeAccount round-trip nonces and balances of every size', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (nonce, balance) => {
      const decoded = decodeAccount(encodeAccount({ nonce, balance, codeHash: EMPTY_CODE_HASH }));
      expect(decoded.nonce).toBe(nonce);
      expect(decoded.balance).toBe(balance);
    }), { numRuns: 1000 });
  });
});

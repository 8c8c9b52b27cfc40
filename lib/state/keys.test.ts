import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { accountHasCode, accountKey, codeKey, EMPTY_CODE_HASH, encodeAccount, keyFromBytes, keyToBytes, StateKeyBytes, storageKey } from './keys.js';

describe('key spelling', () => {
  it('gives lowercase hex with the kind byte first, for any bytes, and keyFromBytes of any length', () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    for (let i = 0; i < 500; i++) {
      const address = randomBytes(20);
      const slot = randomBytes(32);
      expect(accountKey(address)).toBe('01' + hex(address));
      expect(storageKey(address, slot)).toBe('02' + hex(address) + hex(slot));
      expect(codeKey(slot)).toBe('03' + hex(slot));
      const raw = randomBytes(i % 70); // past 53 bytes, the longest key, too
      expect(keyFromBytes(raw)).toBe(hex(raw));
    }
    // A key made right after another is not a view of the same scratch bytes.
    const a = accountKey(Buffer.alloc(20, 0xab));
    accountKey(Buffer.alloc(20, 0xcd));
    expect(a).toBe('01' + 'ab'.repeat(20));
    expect(() => accountKey(Buffer.alloc(19))).toThrow(/20 bytes/);
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
    expect(memo.bytes(a)).toBe(first);
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

import { describe, expect, it } from 'vitest';
import { accountHasCode, accountKey, EMPTY_CODE_HASH, encodeAccount, keyFromBytes, keyToBytes, StateKeyBytes, storageKey } from './keys.js';

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

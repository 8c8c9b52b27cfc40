import { describe, expect, it } from 'vitest';
import { accountKey, keyFromBytes, keyToBytes, StateKeyBytes, storageKey } from './keys.js';

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

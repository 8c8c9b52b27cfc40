import { describe, expect, it } from 'vitest';
import { MappingKeyMemo } from './mappingKeyMemo.js';

const address = (fill: number, last = fill): Buffer => {
  const b = Buffer.alloc(20, fill);
  b[19] = last;
  return b;
};

describe('MappingKeyMemo', () => {
  it('finds what it was given by contract, slot and both keys, and nothing else', () => {
    const memo = new MappingKeyMemo(100);
    const token = 'aa'.repeat(20);
    memo.set(token, 0, address(1), null, 'flat');
    memo.set(token, 1, address(1), address(2), 'nested');
    expect(memo.get(token, 0, address(1), null)).toBe('flat');
    expect(memo.get(token, 1, address(1), address(2))).toBe('nested');
    expect(memo.get(token, 1, address(1), null)).toBeUndefined();
    expect(memo.get(token, 0, address(1), address(2))).toBeUndefined();
    expect(memo.get(token, 1, address(2), address(1))).toBeUndefined();
    expect(memo.get('bb'.repeat(20), 0, address(1), null)).toBeUndefined();
    expect(memo.get(token, 2, address(1), null)).toBeUndefined();
  });

  it('tells apart addresses that share the bytes it hashes', () => {
    const memo = new MappingKeyMemo(100);
    memo.set('c', 3, address(7, 1), null, 'one');
    memo.set('c', 3, address(7, 2), null, 'two');
    expect(memo.get('c', 3, address(7, 1), null)).toBe('one');
    expect(memo.get('c', 3, address(7, 2), null)).toBe('two');
    expect(memo.get('c', 3, address(7, 3), null)).toBeUndefined();
    expect(memo.size).toBe(2);
  });

  it('keeps its own copy of the address bytes', () => {
    const memo = new MappingKeyMemo(100);
    const calldata = Buffer.concat([Buffer.alloc(12), address(9)]);
    const word = calldata.subarray(12);
    memo.set('c', 0, word, null, 'k');
    calldata.fill(0);
    expect(memo.get('c', 0, address(9), null)).toBe('k');
    expect(memo.get('c', 0, word, null)).toBeUndefined();
  });

  it('starts over once full', () => {
    const memo = new MappingKeyMemo(3);
    for (let i = 0; i < 3; i++) memo.set('c', 0, address(i), null, `k${i}`);
    expect(memo.size).toBe(3);
    memo.set('c', 0, address(3), null, 'k3');
    expect(memo.size).toBe(1);
    expect(memo.get('c', 0, address(0), null)).toBeUndefined();
    expect(memo.get('c', 0, address(3), null)).toBe('k3');
    expect(() => new MappingKeyMemo(0)).toThrow(/maxEntries/);
  });
});

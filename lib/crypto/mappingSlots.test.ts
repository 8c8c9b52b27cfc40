import { describe, expect, it } from 'vitest';
import { keccak256 } from './keccak.js';
import { MappingSlotDigests } from './mappingSlots.js';

const address = (seed: number): Buffer => Buffer.from(Array.from({ length: 20 }, (_, i) => (seed * 31 + i * 7) & 0xff));

function input(addr: Uint8Array, slot: number): Uint8Array {
  const bytes = new Uint8Array(64);
  bytes.set(addr, 12);
  bytes[63] = slot;
  return bytes;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const word = (bytes: Uint8Array): bigint => BigInt(`0x${hex(bytes)}`);

describe('MappingSlotDigests', () => {
  it('gives keccak256 of the address word and the slot word, by either entry point, computed or remembered', () => {
    const memo = new MappingSlotDigests(100);
    for (let round = 0; round < 2; round++) {
      for (const [seed, slot] of [[1, 0], [2, 3], [3, 255], [1, 1]] as const) {
        const expected = keccak256(input(address(seed), slot));
        expect(hex(memo.digest(address(seed), slot))).toBe(hex(expected));
        expect(memo.wordOfInput(input(address(seed), slot))).toBe(word(expected));
      }
    }
    expect(memo.size).toBe(4);
  });

  it('leaves inputs of any other shape to the caller', () => {
    const memo = new MappingSlotDigests(100);
    const dirtyHigh = input(address(1), 2);
    dirtyHigh[11] = 1;
    const bigSlot = input(address(1), 2);
    bigSlot[62] = 1;
    for (const bytes of [dirtyHigh, bigSlot, new Uint8Array(63), new Uint8Array(65)]) expect(memo.wordOfInput(bytes)).toBeNull();
    expect(memo.size).toBe(0);
    expect(() => memo.digest(address(1), 256)).toThrow(/slot/);
    expect(() => memo.digest(Buffer.alloc(32), 1)).toThrow(/20-byte/);
  });

  it('keeps its own copy of the address, and tells apart addresses that share the bytes it hashes', () => {
    const memo = new MappingSlotDigests(100);
    const bytes = input(address(5), 1);
    const first = memo.wordOfInput(bytes);
    bytes.fill(0, 12, 32);
    const other = address(5);
    other[19] ^= 0xff;
    expect(hex(memo.digest(other, 1))).toBe(hex(keccak256(input(other, 1))));
    expect(memo.wordOfInput(input(address(5), 1))).toBe(first);
    expect(memo.size).toBe(2);
  });

  it('starts over once full, and answers right after', () => {
    const memo = new MappingSlotDigests(2);
    memo.digest(address(1), 0);
    memo.digest(address(2), 0);
    expect(hex(memo.digest(address(3), 0))).toBe(hex(keccak256(input(address(3), 0))));
    expect(memo.size).toBe(1);
    expect(hex(memo.digest(address(1), 0))).toBe(hex(keccak256(input(address(1), 0))));
    expect(memo.size).toBe(2);
    expect(() => new MappingSlotDigests(0)).toThrow(/maxEntries/);
  });
});

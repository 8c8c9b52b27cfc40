import { RLP } from '@ethereumjs/rlp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rlpEncode, type RlpItem } from './rlp.js';

/** Byte strings around every boundary RLP has: single bytes below and above 0x80, 55/56 bytes, 255/256, 65,536. */
const bytesArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 3 }),
  fc.uint8Array({ minLength: 50, maxLength: 60 }),
  fc.uint8Array({ minLength: 250, maxLength: 260 }),
  fc.constantFrom(65_535, 65_536, 70_000).map((n) => new Uint8Array(n).fill(7)),
);

const itemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, bytesArb, fc.array(tie('item'), { maxLength: 6 })),
})).item;

describe('rlpEncode', () => {
  it('encodes exactly as @ethereumjs/rlp, strings and nested lists across every length boundary', () => {
    fc.assert(fc.property(itemArb, (item) => {
      expect(Buffer.from(rlpEncode(item)).equals(Buffer.from(RLP.encode(item as never)))).toBe(true);
    }), { numRuns: 500 });
  });

  it('encodes the canonical examples of the Yellow Paper and the wiki', () => {
    const hex = (item: RlpItem): string => rlpEncode(item).toString('hex');
    expect(hex(new Uint8Array(0))).toBe('80');
    expect(hex(Uint8Array.of(0x00))).toBe('00');
    expect(hex(Uint8Array.of(0x7f))).toBe('7f');
    expect(hex(Uint8Array.of(0x80))).toBe('8180');
    expect(hex(Buffer.from('dog'))).toBe('83646f67');
    expect(hex([Buffer.from('cat'), Buffer.from('dog')])).toBe('c88363617483646f67');
    expect(hex([])).toBe('c0');
    // The set-theoretical representation of three: [ [], [[]], [ [], [[]] ] ].
    expect(hex([[], [[]], [[], [[]]]])).toBe('c7c0c1c0c3c0c1c0');
    expect(hex(Buffer.from('Lorem ipsum dolor sit amet, consectetur adipisicing elit'))).toBe(
      'b838' + Buffer.from('Lorem ipsum dolor sit amet, consectetur adipisicing elit').toString('hex'),
    );
  });

  it('writes a type prefix before the encoding (EIP-2718 envelopes)', () => {
    const body = [Uint8Array.of(1), Buffer.alloc(60, 2)];
    const typed = rlpEncode(body, 2);
    expect(typed[0]).toBe(2);
    expect(typed.subarray(1).equals(Buffer.from(RLP.encode(body)))).toBe(true);
  });
});

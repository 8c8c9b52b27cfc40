import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { keyFromHex, keyToBytes } from './keys.js';
import { describe, expect, it } from 'vitest';
import { EntryDigests } from './entryDigests.js';
import { LATTICE_BYTES, LATTICE_LANES, StateRootAccumulator } from './root.js';

/** The root's definition, spelled out plainly: what the accumulator's faster path must equal. */
class PlainLattice {
  readonly lanes = new Array<number>(LATTICE_LANES).fill(0);

  private static entry(key: string, value: Uint8Array): number[] {
    const keyBytes = keyToBytes(key);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(keyBytes.length, 0);
    const out = createHash('shake256', { outputLength: LATTICE_BYTES }).update(Buffer.concat([length, keyBytes, value])).digest();
    return Array.from({ length: LATTICE_LANES }, (_, i) => out.readUInt16LE(2 * i));
  }

  update(key: string, before: Uint8Array | null, after: Uint8Array | null): void {
    if (before !== null) PlainLattice.entry(key, before).forEach((h, i) => { this.lanes[i] = (this.lanes[i]! - h + 0x10000) % 0x10000; });
    if (after !== null) PlainLattice.entry(key, after).forEach((h, i) => { this.lanes[i] = (this.lanes[i]! + h) % 0x10000; });
  }

  root(): Buffer {
    const bytes = Buffer.alloc(LATTICE_BYTES);
    this.lanes.forEach((v, i) => bytes.writeUInt16LE(v, 2 * i));
    return createHash('sha3-256').update(bytes).digest();
  }
}

const ACCOUNT = keyFromHex('01' + '11'.repeat(20));
const SLOT = keyFromHex('02' + '22'.repeat(20) + '33'.repeat(32));
const CODE = keyFromHex('03' + '44'.repeat(32));

describe('StateRootAccumulator', () => {
  it('keeps the root of fixed entries (a change here changes every chain\'s roots)', () => {
    const acc = new StateRootAccumulator();
    expect(acc.root().toString('hex')).toBe('463c61ad03873aa9e82581205205acc3d3c8346c7037c43e4e241ee529f2dc27');
    acc.update(ACCOUNT, null, Buffer.alloc(72, 5));
    acc.update(SLOT, null, Buffer.alloc(32, 9));
    acc.update(CODE, null, Buffer.alloc(3000, 0x60)); // longer than the hash input's scratch buffer
    expect(acc.root().toString('hex')).toBe('051c31bb1b1aad6cf9a9047792974e1f7a390848d8cc9d2d9b07f1820e80e205');
    acc.update(ACCOUNT, Buffer.alloc(72, 5), Buffer.alloc(72, 6));
    expect(acc.root().toString('hex')).toBe('7f1db6e0ad8f31777eff83847f371331266f02c6949686a7aa66f2d67405cceb');
  });

  it('equals the plain definition over random updates, deletions and unchanged writes, and survives serialize', () => {
    const key = fc.oneof(
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => keyFromHex('01' + Buffer.from(a).toString('hex'))),
      fc.uint8Array({ minLength: 52, maxLength: 52 }).map((a) => keyFromHex('02' + Buffer.from(a).toString('hex'))),
      fc.constantFrom(ACCOUNT, SLOT, CODE),
    );
    const value = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 72 }), fc.uint8Array({ minLength: 200, maxLength: 600 }));
    const op = fc.record({ key, before: fc.option(value, { nil: null }), after: fc.option(value, { nil: null }), same: fc.boolean() });
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), (ops) => {
      const fast = new StateRootAccumulator();
      const plain = new PlainLattice();
      for (const { key: k, before, after, same } of ops) {
        // A write of the value already there: the accumulator skips it, the definition adds and removes the same hash.
        const b = same && after !== null ? Uint8Array.from(after) : before;
        fast.update(k, b, after);
        plain.update(k, b, after);
      }
      expect(fast.root().equals(plain.root())).toBe(true);
      expect(new StateRootAccumulator(fast.serialize()).root().equals(fast.root())).toBe(true);
      expect(fast.clone().root().equals(fast.root())).toBe(true);
    }), { numRuns: 200 });
  });

  it('gives the same lattice with remembered entry digests, however few are kept', () => {
    // Keys rewritten again and again (the remembered case), with small and large capacities.
    const key = fc.constantFrom(ACCOUNT, SLOT, CODE, keyFromHex('01' + '55'.repeat(20)), keyFromHex('02' + '66'.repeat(52)));
    const value = fc.oneof(fc.constantFrom(Buffer.alloc(32, 1), Buffer.alloc(72, 2)), fc.uint8Array({ minLength: 1, maxLength: 72 }), fc.uint8Array({ minLength: 200, maxLength: 300 }));
    const op = fc.record({ key, after: fc.option(value, { nil: null }) });
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), fc.constantFrom(1, 2, 64), (ops, capacity) => {
      const plain = new StateRootAccumulator();
      const remembered = new StateRootAccumulator();
      const digests = new EntryDigests(capacity);
      const state = new Map<string, Uint8Array>();
      for (const { key: k, after } of ops) {
        const before = state.get(k) ?? null;
        plain.update(k, before, after);
        remembered.update(k, before, after, digests);
        if (after === null) state.delete(k);
        else state.set(k, after);
      }
      expect(remembered.serialize().equals(plain.serialize())).toBe(true);
    }), { numRuns: 200 });
    // A rewrite finds the entry its last write put in.
    const digests = new EntryDigests(16);
    const acc = new StateRootAccumulator();
    acc.update(SLOT, null, Buffer.alloc(32, 1), digests);
    acc.update(SLOT, Buffer.alloc(32, 1), Buffer.alloc(32, 2), digests);
    acc.update(SLOT, Buffer.alloc(32, 2), null, digests);
    expect([digests.hits, digests.misses]).toEqual([2, 0]);
  });

  it('gives the same lattice whatever the order of updates', () => {
    const a = new StateRootAccumulator();
    const b = new StateRootAccumulator();
    a.update(ACCOUNT, null, Buffer.alloc(72, 1));
    a.update(SLOT, null, Buffer.alloc(32, 2));
    b.update(SLOT, null, Buffer.alloc(32, 2));
    b.update(ACCOUNT, null, Buffer.alloc(72, 1));
    expect(a.serialize().equals(b.serialize())).toBe(true);
  });

  it('refuses a key that is not one byte per character and a lattice of the wrong size', () => {
    expect(() => new StateRootAccumulator().update('\u0101' + '\x11'.repeat(20), null, Buffer.alloc(1))).toThrow(/not one byte per character/);
    expect(() => new StateRootAccumulator(Buffer.alloc(10))).toThrow(/2048 bytes/);
  });
});

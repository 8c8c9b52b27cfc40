import fc from 'fast-check';
import { keyFromHex } from '../state/keys.js';
import { describe, expect, it } from 'vitest';
import { PackedSetError, packReads, packWrites, unpackReads, unpackWrites } from './packedSets.js';

const key = fc.oneof(
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => keyFromHex('01' + Buffer.from(a).toString('hex'))),
  fc.uint8Array({ minLength: 52, maxLength: 52 }).map((a) => keyFromHex('02' + Buffer.from(a).toString('hex'))),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => keyFromHex('03' + Buffer.from(a).toString('hex'))),
);

describe('packed read-sets and write-sets', () => {
  it('unpack to what was packed, in order: committed reads (-1), large indexes, deletions, code values', () => {
    const read = fc.record({ txIndex: fc.integer({ min: -1, max: 1_000_000 }), incarnation: fc.integer({ min: 0, max: 2 ** 31 - 1 }) });
    const value = fc.option(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 72 }), fc.uint8Array({ minLength: 200, maxLength: 30_000 })).map((a) => Buffer.from(a)), { nil: null });
    fc.assert(fc.property(fc.uniqueArray(fc.tuple(key, read), { selector: ([k]) => k, maxLength: 40 }), fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 40 }), (reads, writes) => {
      expect(unpackReads(packReads(new Map(reads)))).toEqual(reads.map(([k, r]) => ({ key: k, ...r })));
      expect(unpackWrites(packWrites(new Map(writes)))).toEqual(writes);
    }), { numRuns: 200 });
    expect(unpackReads(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses a packed set that does not hold together', () => {
    const reads = packReads(new Map([[keyFromHex('01' + '11'.repeat(20)), { txIndex: 3, incarnation: 1 }]]));
    expect(() => unpackReads(reads.subarray(0, reads.length - 1))).toThrow(PackedSetError); // truncated
    expect(() => unpackReads(Buffer.from([60, 1, 2]))).toThrow(/overruns/);
    expect(() => unpackReads(Buffer.from([0]))).toThrow(/key of 0 bytes/);
    expect(() => unpackReads(Buffer.from([1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/varint/);
    const writes = packWrites(new Map([[keyFromHex('01' + '11'.repeat(20)), Buffer.alloc(72, 1)]]));
    expect(() => unpackWrites(writes.subarray(0, writes.length - 1))).toThrow(/overruns/);
    const flag = Buffer.from(writes);
    flag[22] = 2;
    expect(() => unpackWrites(flag)).toThrow(/absent flag/);
  });

  it('copies values out, so they do not pin the message they came in', () => {
    const packed = packWrites(new Map([[keyFromHex('02' + '22'.repeat(52)), Buffer.alloc(32, 9)]]));
    const [[, value]] = unpackWrites(packed) as Array<[string, Buffer]>;
    packed.fill(0);
    expect(value).toEqual(Buffer.alloc(32, 9));
  });
});

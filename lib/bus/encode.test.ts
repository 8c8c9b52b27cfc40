import { describe, expect, it } from 'vitest';
import { StateReadResponse, TxBatch } from '../../gen/lanes/v1/bus.js';
import { Tx } from '../../gen/lanes/v1/types.js';
import { MAX_RETAINED_BYTES, encodeMessage } from './encode.js';

const tx = (i: number, rawBytes = 110): Tx => ({ hash: Buffer.alloc(32, i), raw: Buffer.alloc(rawBytes, i + 1), sender: Buffer.alloc(20, i + 2) });

describe('encodeMessage', () => {
  it('gives the bytes a fresh writer gives, each in memory of its own', () => {
    const first = encodeMessage(Tx, tx(1));
    const firstCopy = Buffer.from(first);
    const second = encodeMessage(Tx, tx(2));
    expect(first.equals(Buffer.from(Tx.encode(tx(1)).finish()))).toBe(true);
    expect(second.equals(Buffer.from(Tx.encode(tx(2)).finish()))).toBe(true);
    expect(first.equals(firstCopy)).toBe(true); // the second encode did not write into the first's bytes
    expect(first.buffer).not.toBe(second.buffer);
    expect(Tx.decode(second)).toEqual(tx(2));
  });

  it('encodes correctly after a message larger than the writer keeps, and after an encode that threw', () => {
    const big: TxBatch = { ingressId: 'i', batchSeq: 1n, txs: Array.from({ length: 20 }, (_, i) => tx(i, 64 * 1024)), createdAtMs: 5n };
    const bigBytes = encodeMessage(TxBatch, big);
    expect(bigBytes.length).toBeGreaterThan(MAX_RETAINED_BYTES);
    expect(bigBytes.equals(Buffer.from(TxBatch.encode(big).finish()))).toBe(true);
    expect(encodeMessage(Tx, tx(3)).equals(Buffer.from(Tx.encode(tx(3)).finish()))).toBe(true);

    // A uint64 field holding something that is not a number: the writer throws halfway through the message.
    const broken = { height: 1n, entries: [{ key: Buffer.alloc(3, 1), value: Buffer.alloc(4), absent: false }], error: '', oldestReadable: 'x' as unknown as bigint };
    expect(() => encodeMessage(StateReadResponse, broken)).toThrow();
    expect(encodeMessage(Tx, tx(4)).equals(Buffer.from(Tx.encode(tx(4)).finish()))).toBe(true);
  });
});

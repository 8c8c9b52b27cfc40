import { createAccessList2930Tx, createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessListKeys, blockCallFields, shareCallFields, txCallFields } from './txFields.js';

const KEY = Buffer.alloc(32, 7);
const TO = Buffer.alloc(20, 0xab);
const DATA = Buffer.from('a9059cbb' + '00'.repeat(12) + 'cd'.repeat(20) + '00'.repeat(31) + '05', 'hex');
const SLOT = Buffer.alloc(32, 3);
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

describe('txCallFields', () => {
  it('reads to and calldata of legacy, EIP-2930 and EIP-1559 transactions', () => {
    const legacy = createLegacyTx({ nonce: 1n, gasPrice: 10n, gasLimit: 50_000n, to: TO, value: 1n, data: DATA }).sign(KEY).serialize();
    const t2930 = createAccessList2930Tx({ chainId: 1n, nonce: 0n, gasPrice: 10n, gasLimit: 60_000n, to: TO, data: DATA, accessList: [{ address: `0x${TO.toString('hex')}`, storageKeys: [`0x${SLOT.toString('hex')}`] }] }).sign(KEY).serialize();
    const t1559 = createFeeMarket1559Tx({ chainId: 1n, nonce: 3n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, gasLimit: 60_000n, to: TO, value: 0n, data: DATA }).sign(KEY).serialize();
    for (const raw of [legacy, t2930, t1559]) {
      const f = txCallFields(raw);
      expect(hex(f.to)).toBe(TO.toString('hex'));
      expect(hex(f.data)).toBe(DATA.toString('hex'));
    }
    expect(txCallFields(legacy).accessList).toBeNull();
    expect(txCallFields(t1559).accessList).toBeNull(); // empty list
    expect(accessListKeys(txCallFields(t2930).accessList)).toEqual([TO.toString('hex') + SLOT.toString('hex')]);
  });

  it('gives no `to` for a contract creation and empty calldata for a plain transfer', () => {
    const create = createFeeMarket1559Tx({ chainId: 1n, maxFeePerGas: 10n, gasLimit: 100_000n, data: DATA }).sign(KEY).serialize();
    expect(txCallFields(create).to).toBeNull();
    expect(hex(txCallFields(create).data)).toBe(DATA.toString('hex'));
    const transfer = createFeeMarket1559Tx({ chainId: 1n, maxFeePerGas: 10n, gasLimit: 21_000n, to: TO, value: 5n }).sign(KEY).serialize();
    expect(txCallFields(transfer).data.length).toBe(0);
  });

  it('reads a block\'s txs once per txs array, each as txCallFields does', () => {
    const raws = [
      createFeeMarket1559Tx({ chainId: 1n, maxFeePerGas: 10n, gasLimit: 60_000n, to: TO, data: DATA }).sign(KEY).serialize(),
      createFeeMarket1559Tx({ chainId: 1n, nonce: 1n, maxFeePerGas: 10n, gasLimit: 100_000n, data: DATA }).sign(KEY).serialize(),
      createLegacyTx({ nonce: 2n, gasPrice: 10n, gasLimit: 21_000n, to: TO, value: 1n }).sign(KEY).serialize(),
    ];
    const txs = raws.map((raw) => ({ raw }));
    const fields = blockCallFields(txs);
    expect(fields.map((f) => [hex(f.to), hex(f.data), hex(f.accessList)])).toEqual(raws.map((raw) => {
      const f = txCallFields(raw);
      return [hex(f.to), hex(f.data), hex(f.accessList)];
    }));
    expect(blockCallFields(txs)).toBe(fields); // the same array: read once
    expect(blockCallFields([...txs])).not.toBe(fields);
    // A partition's share of the block takes the fields already read, the same objects.
    const picked = [txs[2]!, txs[0]!];
    shareCallFields(txs, picked, [2, 0]);
    const shared = blockCallFields(picked);
    expect(shared[0]).toBe(fields[2]);
    expect(shared[1]).toBe(fields[0]);
    // Nothing to share from an array not read yet: its share is read when asked.
    const unread = raws.map((raw) => ({ raw }));
    const alone = [unread[1]!];
    shareCallFields(unread, alone, [1]);
    expect(hex(blockCallFields(alone)[0]!.data)).toBe(DATA.toString('hex'));
  });

  it('never throws on malformed bytes, and reads nothing from truncated transactions', () => {
    const t1559 = createFeeMarket1559Tx({ chainId: 1n, maxFeePerGas: 10n, gasLimit: 60_000n, to: TO, data: DATA }).sign(KEY).serialize();
    for (let cut = 0; cut < 40; cut++) expect(txCallFields(t1559.subarray(0, cut)).to).toBeNull();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const f = txCallFields(bytes);
      expect(f.to === null || f.to.length === 20).toBe(true);
      expect(Array.isArray(accessListKeys(f.accessList))).toBe(true);
    }), { numRuns: 2000 });
  });
});

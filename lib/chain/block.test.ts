import { createBlockHeaderFromBytesArray } from '@ethereumjs/block';
import { RLP } from '@ethereumjs/rlp';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { Bloom } from '@ethereumjs/vm';
import { describe, expect, it } from 'vitest';
import type { BlockEnv } from '../../gen/lanes/v1/bus.js';
import type { BlockHeader, Log } from '../../gen/lanes/v1/types.js';
import {
  BLOOM_BYTES, EMPTY_ROOT, ZERO_HASH, blockHeaderHash, bloomMayContain, buildBlockHeader, buildReceipts,
  genesisHeader, genesisOrderedDigest, logsBloom, merkleRoot, orderedBlockDigest, receiptsRoot, transactionsRoot,
  type ReceiptInput,
} from './block.js';
import { chainCommon } from './common.js';

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);
const hashOf = (i: number): Buffer => Buffer.from(keccak_256(Uint8Array.of(i)));
const log = (address: Buffer, topics: Buffer[], data = Buffer.alloc(0)): Log => ({ address, topics, data });

const env: BlockEnv = {
  number: 7n,
  timestamp: 1_700_000_000n,
  coinbase: bytes(20, 0xcb),
  gasLimit: 30_000_000n,
  baseFeePerGas: Buffer.from([0x03, 0xe8]),
  prevRandao: bytes(32, 0x42),
  chainId: 31337n,
};

function receiptInput(i: number, logs: Log[], gasUsed = 21_000n): ReceiptInput {
  return {
    txHash: hashOf(i), sender: bytes(20, i), to: bytes(20, 0xee), contractAddress: null,
    gasUsed, success: i % 2 === 0, logs, txType: 2, effectiveGasPrice: 1000n + BigInt(i),
  };
}

function sampleHeader(): BlockHeader {
  const receipts = buildReceipts([
    receiptInput(1, [log(bytes(20, 0xaa), [bytes(32, 1)])]),
    receiptInput(2, []),
  ]);
  return buildBlockHeader({
    env, parentHash: bytes(32, 0x11), stateRoot: bytes(32, 0x22),
    txHashes: [hashOf(1), hashOf(2)], receipts, orderedDigest: bytes(32, 0x33),
  });
}

describe('logsBloom', () => {
  it('contains every address and topic of the logs', () => {
    const logs = [log(bytes(20, 1), [bytes(32, 2), bytes(32, 3)]), log(bytes(20, 4), [])];
    const bloom = logsBloom(logs);
    expect(bloom.length).toBe(BLOOM_BYTES);
    for (const item of [bytes(20, 1), bytes(32, 2), bytes(32, 3), bytes(20, 4)]) expect(bloomMayContain(bloom, item)).toBe(true);
    // Each item sets at most 3 bits: 4 items → at most 12 bits, so most other items are excluded.
    let excluded = 0;
    for (let i = 0; i < 100; i++) if (!bloomMayContain(bloom, bytes(20, 100 + i))) excluded++;
    expect(excluded).toBeGreaterThan(90);
  });

  it('equals @ethereumjs/vm Bloom for the same items', () => {
    const items = [bytes(20, 7), bytes(32, 8), Buffer.from('hello')];
    const reference = new Bloom();
    for (const item of items) reference.add(item);
    expect(logsBloom([log(items[0]!, [items[1]!, items[2]!])])).toEqual(Buffer.from(reference.bitvector));
  });

  it('is all zero for no logs', () => {
    expect(logsBloom([]).equals(Buffer.alloc(BLOOM_BYTES))).toBe(true);
  });
});

describe('roots', () => {
  it('empty list gives the Ethereum empty trie root', () => {
    expect(transactionsRoot([])).toEqual(EMPTY_ROOT);
    expect(Buffer.from(keccak_256(RLP.encode(new Uint8Array(0))))).toEqual(EMPTY_ROOT);
    expect(receiptsRoot([])).toEqual(EMPTY_ROOT);
  });

  it('depends on order, content and count', () => {
    const hs = [hashOf(1), hashOf(2), hashOf(3)];
    const root = transactionsRoot(hs);
    expect(transactionsRoot([...hs])).toEqual(root);
    expect(transactionsRoot([hs[1]!, hs[0]!, hs[2]!])).not.toEqual(root);
    expect(transactionsRoot([...hs, hs[2]!])).not.toEqual(root); // no [a,b,c] == [a,b,c,c]
    expect(transactionsRoot(hs.slice(0, 2))).not.toEqual(root);
    expect(merkleRoot([hashOf(1)])).not.toEqual(hashOf(1));
  });

  it('rejects leaves that are not 32 bytes', () => {
    expect(() => transactionsRoot([Buffer.alloc(31)])).toThrow(/32 bytes/);
  });
});

describe('buildReceipts', () => {
  it('numbers txs, accumulates gas and indexes logs across the block', () => {
    const l = (n: number): Log => log(bytes(20, n), [bytes(32, n)]);
    const receipts = buildReceipts([
      receiptInput(0, [l(1), l(2)], 50_000n),
      receiptInput(1, [], 21_000n),
      receiptInput(2, [l(3)], 30_000n),
    ]);
    expect(receipts.map((r) => r.txIndex)).toEqual([0, 1, 2]);
    expect(receipts.map((r) => r.cumulativeGasUsed)).toEqual([50_000n, 71_000n, 101_000n]);
    expect(receipts.map((r) => r.firstLogIndex)).toEqual([0, 2, 2]);
    expect(bloomMayContain(receipts[0]!.logsBloom, bytes(20, 2))).toBe(true);
    expect(receipts[1]!.logsBloom.equals(Buffer.alloc(256))).toBe(true);
    expect(receipts[0]!.to).toEqual(bytes(20, 0xee));
    expect(receipts[0]!.contractAddress.length).toBe(0);
    expect(receipts[2]!.effectiveGasPrice).toEqual(Buffer.from([0x03, 0xea]));
  });

  it('receipts root changes with status, gas or logs', () => {
    const base = buildReceipts([receiptInput(0, [log(bytes(20, 1), [])])]);
    const root = receiptsRoot(base);
    expect(receiptsRoot([{ ...base[0]!, success: !base[0]!.success }])).not.toEqual(root);
    expect(receiptsRoot([{ ...base[0]!, cumulativeGasUsed: 1n }])).not.toEqual(root);
    expect(receiptsRoot([{ ...base[0]!, logs: [] }])).not.toEqual(root);
  });
});

describe('buildBlockHeader', () => {
  it('hash is stable and equals keccak256 of the Cancun header RLP', () => {
    const a = sampleHeader();
    const b = sampleHeader();
    expect(a.hash).toEqual(b.hash);
    expect(a.hash.length).toBe(32);
    expect(a.gasUsed).toBe(42_000n);
    expect(a.txCount).toBe(2);
    expect(bloomMayContain(a.logsBloom, bytes(20, 0xaa))).toBe(true);
    // Rebuild the header from the 20 raw Cancun fields, as an Ethereum client would.
    const u = (v: bigint): Uint8Array => (v === 0n ? new Uint8Array(0) : Buffer.from(v.toString(16).padStart(Math.ceil(v.toString(16).length / 2) * 2, '0'), 'hex'));
    const fields: Uint8Array[] = [
      a.parentHash, Buffer.from('1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347', 'hex'), a.coinbase,
      a.stateRoot, a.transactionsRoot, a.receiptsRoot, a.logsBloom, u(0n), u(a.number), u(a.gasLimit), u(a.gasUsed),
      u(a.timestamp), new Uint8Array(0), a.mixHash, new Uint8Array(8), a.baseFeePerGas, EMPTY_ROOT, u(0n), u(0n), ZERO_HASH,
    ];
    expect(Buffer.from(keccak_256(RLP.encode(fields)))).toEqual(a.hash);
    const reparsed = createBlockHeaderFromBytesArray(fields, { common: chainCommon(env.chainId), skipConsensusFormatValidation: true });
    expect(Buffer.from(reparsed.hash())).toEqual(a.hash);
  });

  it('hash changes when any hashed field changes', () => {
    const a = sampleHeader();
    const variants: Partial<BlockHeader>[] = [
      { number: 8n }, { parentHash: bytes(32, 0x12) }, { stateRoot: bytes(32, 0x23) },
      { transactionsRoot: bytes(32, 1) }, { receiptsRoot: bytes(32, 2) }, { logsBloom: Buffer.alloc(256) },
      { gasUsed: 1n }, { gasLimit: 29_000_000n }, { timestamp: 1n }, { baseFeePerGas: Buffer.from([1]) },
      { coinbase: bytes(20, 1) }, { mixHash: bytes(32, 9) },
    ];
    const seen = new Set([a.hash.toString('hex')]);
    for (const v of variants) {
      const h = blockHeaderHash({ ...a, ...v }, env.chainId).toString('hex');
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    }
    expect(blockHeaderHash(a, env.chainId)).toEqual(a.hash);
  });

  it('rejects malformed inputs', () => {
    expect(() => buildBlockHeader({
      env: { ...env, prevRandao: Buffer.alloc(0) }, parentHash: ZERO_HASH, stateRoot: ZERO_HASH,
      txHashes: [], receipts: [], orderedDigest: ZERO_HASH,
    })).toThrow(/prevRandao/);
    expect(() => buildBlockHeader({
      env, parentHash: ZERO_HASH, stateRoot: ZERO_HASH, txHashes: [hashOf(1)], receipts: [], orderedDigest: ZERO_HASH,
    })).toThrow(/receipts/);
  });
});

describe('genesisHeader and orderedBlockDigest', () => {
  const genesis = { chainId: 31337n, timestamp: 0n, gasLimit: 30_000_000n, baseFeePerGas: 1_000_000_000n, coinbase: bytes(20, 0) };

  it('block 0 has no parent, empty roots and the given state root', () => {
    const h = genesisHeader(genesis, bytes(32, 5));
    expect(h.number).toBe(0n);
    expect(h.parentHash).toEqual(ZERO_HASH);
    expect(h.transactionsRoot).toEqual(EMPTY_ROOT);
    expect(h.receiptsRoot).toEqual(EMPTY_ROOT);
    expect(h.stateRoot).toEqual(bytes(32, 5));
    expect(h.orderedDigest).toEqual(genesisOrderedDigest(genesis));
    expect(genesisHeader(genesis, bytes(32, 5)).hash).toEqual(h.hash);
    expect(genesisHeader(genesis, bytes(32, 6)).hash).not.toEqual(h.hash);
  });

  it('ordered digest binds every field', () => {
    const base = { height: 1n, parentDigest: bytes(32, 1), timestamp: 2n, txRoot: bytes(32, 3) };
    const d = orderedBlockDigest(base);
    expect(orderedBlockDigest({ ...base })).toEqual(d);
    for (const v of [{ height: 2n }, { parentDigest: bytes(32, 9) }, { timestamp: 3n }, { txRoot: bytes(32, 9) }]) {
      expect(orderedBlockDigest({ ...base, ...v })).not.toEqual(d);
    }
  });
});

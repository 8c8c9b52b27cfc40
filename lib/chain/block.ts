// Pure block helpers shared by state, scheduler, consensus and the reference executor: the logs
// bloom, the transactions and receipts roots, receipts from execution results, the block header
// (hashed exactly as an Ethereum Cancun header, so tools that re-hash a header agree) and the
// digest consensus signs for an ordered block. Nothing here reads the clock or the disk.
//
// Roots: no Merkle-Patricia trie library is installed, and Lanes does not serve inclusion proofs,
// so the transactions and receipts roots are a binary keccak Merkle tree (`merkleRoot`) over
// 32-byte leaves, not Ethereum's MPT. Consequence: a client recomputing `transactionsRoot` from
// the block body with an MPT gets a different value; the header hash itself is still the keccak
// of the header RLP, so hash checks agree.
import { createBlockHeader } from '@ethereumjs/block';
import { keccak256 } from '../crypto/keccak.js';
import type { BlockEnv } from '../../gen/lanes/v1/bus.js';
import type { BlockHeader, Log, Receipt } from '../../gen/lanes/v1/types.js';
import { bigintToBytes, bytesToBigint } from '../state/keys.js';
import { chainCommon } from './common.js';
import { rlpEncode, type RlpItem } from './rlp.js';

export const BLOOM_BYTES = 256;
export const HASH_BYTES = 32;
export const ADDRESS_BYTES = 20;

const keccak = (data: Uint8Array): Buffer => {
  const h = keccak256(data);
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
};

/** keccak256(RLP("")) — Ethereum's root of an empty trie; also our root of an empty list. */
export const EMPTY_ROOT = Buffer.from('56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421', 'hex');
/** keccak256(RLP([])) — the uncles hash of every post-merge block. */
export const EMPTY_UNCLE_HASH = Buffer.from('1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347', 'hex');
export const ZERO_HASH = Buffer.alloc(HASH_BYTES);

// ---------------------------------------------------------------------------------------------
// Logs bloom (Yellow Paper §4.3.1): for each item, three 11-bit indexes from the first six bytes
// of keccak256(item); bit i lives in byte 255 - i/8.

/** The three bloom bit indexes (0..2047) of `item`; precompute them to test many blooms. */
export function bloomBits(item: Uint8Array): [number, number, number] {
  const h = keccak256(item);
  return [
    ((h[0]! << 8) | h[1]!) & 2047,
    ((h[2]! << 8) | h[3]!) & 2047,
    ((h[4]! << 8) | h[5]!) & 2047,
  ];
}

/** Sets the three bits of `item` in `bloom` (256 bytes), in place. */
export function bloomAdd(bloom: Buffer, item: Uint8Array): void {
  for (const bit of bloomBits(item)) bloom[BLOOM_BYTES - 1 - (bit >> 3)] |= 1 << (bit & 7);
}

/** False when the item with these `bloomBits` is certainly not in the set; true when it may be. */
export function bloomHasBits(bloom: Uint8Array, bits: readonly number[]): boolean {
  if (bloom.length !== BLOOM_BYTES) return true; // no bloom: cannot exclude anything
  for (const bit of bits) {
    if ((bloom[BLOOM_BYTES - 1 - (bit >> 3)]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

/** False when `item` is certainly not in the set; true when it may be. */
export function bloomMayContain(bloom: Uint8Array, item: Uint8Array): boolean {
  return bloomHasBits(bloom, bloomBits(item));
}

/** ORs `from` into `into` (both 256 bytes). */
export function bloomMerge(into: Buffer, from: Uint8Array): void {
  if (from.length !== BLOOM_BYTES) throw new Error(`bloomMerge: bloom must be ${BLOOM_BYTES} bytes, got ${from.length}`);
  for (let i = 0; i < BLOOM_BYTES; i++) into[i] |= from[i]!;
}

/** The 2048-bit Ethereum bloom of a list of logs: each log's address and each of its topics. */
export function logsBloom(logs: Log[]): Buffer {
  // A slice of Node's pool rather than an ArrayBuffer of its own: a block's receipts live until
  // its commit lands, through the scavenges of the next block's run (lib/evm/execute.ts `detached`).
  const bloom = Buffer.allocUnsafe(BLOOM_BYTES).fill(0);
  for (const log of logs) {
    bloomAdd(bloom, log.address);
    for (const topic of log.topics) bloomAdd(bloom, topic);
  }
  return bloom;
}

// ---------------------------------------------------------------------------------------------
// Roots

/**
 * Binary keccak Merkle root over 32-byte leaves, bound to the leaf count:
 *   empty list           → EMPTY_ROOT (so an empty block shows Ethereum's familiar empty root)
 *   otherwise            → keccak256(count u64 BE ‖ top), where pairs combine as keccak256(l ‖ r)
 *                          and an odd node at the end of a level is carried up unchanged.
 * The leaves are already hashes, so they are not rehashed (n - 1 + 1 keccaks for n leaves). Binding
 * the count makes lists of different lengths incomparable (no tree-shape ambiguity), and carrying
 * the odd node up instead of duplicating it avoids Bitcoin's [a,b,c] == [a,b,c,c] mutation.
 */
export function merkleRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  let level: Buffer[] = leaves.map((leaf, i) => {
    if (leaf.length !== HASH_BYTES) throw new Error(`merkleRoot: leaf ${i} must be ${HASH_BYTES} bytes, got ${leaf.length}`);
    return leaf;
  });
  const pair = Buffer.alloc(2 * HASH_BYTES);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      level[i]!.copy(pair, 0);
      level[i + 1]!.copy(pair, HASH_BYTES);
      next.push(keccak(pair));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  const top = Buffer.alloc(8 + HASH_BYTES);
  top.writeBigUInt64BE(BigInt(leaves.length), 0);
  level[0]!.copy(top, 8);
  return keccak(top);
}

/** Root over the block's transaction hashes, in block order (also consensus' ordered tx root). */
export function transactionsRoot(txHashes: Buffer[]): Buffer {
  return merkleRoot(txHashes);
}

const u64Bytes = (value: bigint): Uint8Array => bigintToBytes(value);
const STATUS_SUCCESS = Uint8Array.of(1);
const NO_STATUS = new Uint8Array(0);

/**
 * Leaf of one receipt: keccak256 of `txType ‖ RLP([status, cumulativeGasUsed, logs])` (legacy type
 * 0 without the prefix) — Ethereum's typed receipt encoding minus the logs bloom. The bloom is a
 * function of the logs, so leaving it out commits to the same thing, and it would be 256 of the
 * ≈ 350 bytes hashed per receipt. Encoded by rlp.ts into one buffer, type byte included: through
 * @ethereumjs/rlp a receipt with one log took 15–56 µs, ≈ 13 ms of a 500-tx ERC-20 commit.
 */
export function receiptLeaf(receipt: Receipt): Buffer {
  const logs: RlpItem[] = [];
  for (const log of receipt.logs) logs.push([log.address, log.topics, log.data]);
  const body: RlpItem = [receipt.success ? STATUS_SUCCESS : NO_STATUS, u64Bytes(receipt.cumulativeGasUsed), logs];
  return keccak(receipt.txType === 0 ? rlpEncode(body) : rlpEncode(body, receipt.txType));
}

/** Root over the receipts' consensus fields (type, status, cumulative gas, logs), in block order. */
export function receiptsRoot(receipts: Receipt[]): Buffer {
  return merkleRoot(receipts.map(receiptLeaf));
}

// ---------------------------------------------------------------------------------------------
// Receipts

/** What execution knows about one included transaction; `buildReceipts` adds the block context. */
export interface ReceiptInput {
  txHash: Buffer;
  sender: Buffer;
  to: Buffer | null;
  contractAddress: Buffer | null;
  gasUsed: bigint;
  success: boolean;
  logs: Log[];
  txType: number;
  effectiveGasPrice: bigint;
}

const NO_BYTES = Buffer.alloc(0);

/** Receipts in block order: tx index, cumulative gas, per-receipt bloom, block-wide log indexes. */
export function buildReceipts(inputs: ReceiptInput[]): Receipt[] {
  const receipts: Receipt[] = [];
  let cumulativeGasUsed = 0n;
  let logIndex = 0;
  // A block's txs mostly pay one gas price: its bytes are shared, as are the empty fields.
  let price = -1n;
  let priceBytes: Buffer = NO_BYTES;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    if (input.gasUsed < 0n) throw new Error(`buildReceipts: negative gasUsed at tx ${i}`);
    cumulativeGasUsed += input.gasUsed;
    if (input.effectiveGasPrice !== price) {
      price = input.effectiveGasPrice;
      priceBytes = bigintToBytes(price);
    }
    receipts.push({
      txHash: input.txHash,
      txIndex: i,
      from: input.sender,
      to: input.to ?? NO_BYTES,
      contractAddress: input.contractAddress ?? NO_BYTES,
      gasUsed: input.gasUsed,
      cumulativeGasUsed,
      effectiveGasPrice: priceBytes,
      success: input.success,
      logs: input.logs,
      logsBloom: logsBloom(input.logs),
      txType: input.txType,
      firstLogIndex: logIndex,
    });
    logIndex += input.logs.length;
  }
  return receipts;
}

// ---------------------------------------------------------------------------------------------
// Header

function fixedBytes(name: string, value: Buffer, length: number): Buffer {
  if (value.length !== length) throw new Error(`block header: ${name} must be ${length} bytes, got ${value.length}`);
  return value;
}

export interface BuildBlockHeaderArgs {
  env: BlockEnv;
  parentHash: Buffer;
  stateRoot: Buffer;
  txHashes: Buffer[];
  receipts: Receipt[];
  orderedDigest: Buffer;
  /** blockBodyRoots(txHashes, receipts), when already computed (the state service does it while the state root hashes). */
  body?: BlockBodyRoots;
}

/** The header fields that come from the block's body alone. */
export interface BlockBodyRoots {
  transactionsRoot: Buffer;
  receiptsRoot: Buffer;
  logsBloom: Buffer;
  gasUsed: bigint;
}

export function blockBodyRoots(txHashes: Buffer[], receipts: Receipt[]): BlockBodyRoots {
  if (receipts.length !== txHashes.length) {
    throw new Error(`block header: ${txHashes.length} tx hashes but ${receipts.length} receipts`);
  }
  const logsBloom = Buffer.alloc(BLOOM_BYTES);
  for (const receipt of receipts) bloomMerge(logsBloom, receipt.logsBloom);
  return {
    transactionsRoot: transactionsRoot(txHashes),
    receiptsRoot: receiptsRoot(receipts),
    logsBloom,
    gasUsed: receipts.length === 0 ? 0n : receipts[receipts.length - 1]!.cumulativeGasUsed,
  };
}

/**
 * The header of an executed block. `hash` is keccak256 of the Cancun header RLP (the 20 fields
 * from parentHash to parentBeaconBlockRoot) with: empty uncles, difficulty 0, nonce 0, empty
 * extraData, mixHash = prevRandao, withdrawalsRoot = empty trie root, no blob gas, zero parent
 * beacon root. `stateRoot` is the LtHash root (lib/state/root.ts), not an MPT root.
 */
export function buildBlockHeader(args: BuildBlockHeaderArgs): BlockHeader {
  const { env } = args;
  if (args.receipts.length !== args.txHashes.length) {
    throw new Error(`block header: ${args.txHashes.length} tx hashes but ${args.receipts.length} receipts`);
  }
  const body = args.body ?? blockBodyRoots(args.txHashes, args.receipts);
  const header: BlockHeader = {
    number: env.number,
    hash: Buffer.alloc(0),
    parentHash: fixedBytes('parentHash', args.parentHash, HASH_BYTES),
    stateRoot: fixedBytes('stateRoot', args.stateRoot, HASH_BYTES),
    transactionsRoot: body.transactionsRoot,
    receiptsRoot: body.receiptsRoot,
    logsBloom: body.logsBloom,
    gasUsed: body.gasUsed,
    gasLimit: env.gasLimit,
    timestamp: env.timestamp,
    baseFeePerGas: bigintToBytes(bytesToBigint(env.baseFeePerGas)), // canonical: no leading zeros
    coinbase: fixedBytes('coinbase', env.coinbase, ADDRESS_BYTES),
    mixHash: fixedBytes('mixHash (prevRandao)', env.prevRandao, HASH_BYTES),
    txCount: args.txHashes.length,
    orderedDigest: fixedBytes('orderedDigest', args.orderedDigest, HASH_BYTES),
  };
  header.hash = blockHeaderHash(header, env.chainId);
  return header;
}

/** keccak256 of the Ethereum Cancun RLP of `header` (its `hash` field is ignored). */
export function blockHeaderHash(header: BlockHeader, chainId: bigint): Buffer {
  const ethHeader = createBlockHeader(
    {
      parentHash: header.parentHash,
      uncleHash: EMPTY_UNCLE_HASH,
      coinbase: header.coinbase,
      stateRoot: header.stateRoot,
      transactionsTrie: header.transactionsRoot,
      receiptTrie: header.receiptsRoot,
      logsBloom: header.logsBloom,
      difficulty: 0n,
      number: header.number,
      gasLimit: header.gasLimit,
      gasUsed: header.gasUsed,
      timestamp: header.timestamp,
      extraData: new Uint8Array(0),
      mixHash: header.mixHash,
      nonce: new Uint8Array(8),
      baseFeePerGas: bytesToBigint(header.baseFeePerGas),
      withdrawalsRoot: EMPTY_ROOT,
      blobGasUsed: 0n,
      excessBlobGas: 0n,
      parentBeaconBlockRoot: ZERO_HASH,
    },
    // Consensus-format checks (PoS extraData/difficulty rules, London's initial base fee at the
    // mainnet fork block) describe mainnet, not a Lanes chain; field lengths are still checked.
    { common: chainCommon(chainId), skipConsensusFormatValidation: true, freeze: false },
  );
  const hash = ethHeader.hash();
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength);
}

/** The subset of lib/chain/genesis.ts' Genesis the genesis header depends on. */
export interface GenesisHeaderFields {
  chainId: bigint;
  timestamp: bigint;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  coinbase: Buffer;
}

/**
 * The ordered digest of block 0: a digest of an empty ordered block at height 0 with a zero
 * parent, so consensus can chain block 1 to it without a special case.
 */
export function genesisOrderedDigest(genesis: GenesisHeaderFields): Buffer {
  return orderedBlockDigest({ height: 0n, parentDigest: ZERO_HASH, timestamp: genesis.timestamp, txRoot: EMPTY_ROOT });
}

/** Header of block 0: no parent, no transactions, the genesis allocation's state root. */
export function genesisHeader(genesis: GenesisHeaderFields, stateRoot: Buffer): BlockHeader {
  return buildBlockHeader({
    env: {
      number: 0n,
      timestamp: genesis.timestamp,
      coinbase: genesis.coinbase,
      gasLimit: genesis.gasLimit,
      baseFeePerGas: bigintToBytes(genesis.baseFeePerGas),
      prevRandao: ZERO_HASH,
      chainId: genesis.chainId,
    },
    parentHash: ZERO_HASH,
    stateRoot,
    txHashes: [],
    receipts: [],
    orderedDigest: genesisOrderedDigest(genesis),
  });
}

// ---------------------------------------------------------------------------------------------
// Ordered block digest

export interface OrderedBlockDigestInput {
  height: bigint;
  parentDigest: Buffer;
  timestamp: bigint;
  txRoot: Buffer;
}

const ORDERED_DIGEST_DOMAIN = Buffer.from('lanes.ordered-block.v1', 'ascii');

/**
 * keccak256(domain ‖ height u64 BE ‖ parentDigest(32) ‖ timestamp u64 BE ‖ txRoot(32)): fixed
 * width, so no two inputs share an encoding; the domain keeps it apart from every other keccak.
 */
export function orderedBlockDigest(input: OrderedBlockDigestInput): Buffer {
  const d = ORDERED_DIGEST_DOMAIN.length;
  const buf = Buffer.alloc(d + 8 + HASH_BYTES + 8 + HASH_BYTES);
  ORDERED_DIGEST_DOMAIN.copy(buf, 0);
  buf.writeBigUInt64BE(input.height, d);
  fixedBytes('parentDigest', input.parentDigest, HASH_BYTES).copy(buf, d + 8);
  buf.writeBigUInt64BE(input.timestamp, d + 8 + HASH_BYTES);
  fixedBytes('txRoot', input.txRoot, HASH_BYTES).copy(buf, d + 16 + HASH_BYTES);
  return keccak(buf);
}

// Ethereum JSON-RPC shapes of Lanes' blocks, transactions, receipts and logs, exactly as ethers,
// viem and cast parse them (field names and geth's formatting: minimal-hex quantities, fixed-width
// hashes, null for "none"). Pure: bytes in, JSON-ready objects out.
import { RLP } from '@ethereumjs/rlp';
import { TransactionType } from '@ethereumjs/tx';
import { EMPTY_ROOT, EMPTY_UNCLE_HASH, ZERO_HASH } from '../../lib/chain/block.js';
import type { DecodedTx } from '../../lib/chain/decode.js';
import type { LogEntry } from '../../gen/lanes/v1/bus.js';
import type { BlockHeader, Log, Receipt, Tx } from '../../gen/lanes/v1/types.js';
import { addressOrNull, data, fixedData, quantity, quantityOfBytes } from './hex.js';

export type JsonObject = { [field: string]: unknown };

const EMPTY_NONCE = '0x0000000000000000';

/** Where an included transaction sits; absent for a pending one. */
export interface TxLocation {
  blockHash: Buffer;
  blockNumber: bigint;
  index: number;
  /** What the sender paid per gas: the `gasPrice` of an included EIP-1559 transaction. */
  effectiveGasPrice: bigint;
}

/** Header fields of a block (also the payload of an eth_subscribe newHeads notification). */
export function formatHeader(header: BlockHeader): JsonObject {
  return {
    number: quantity(header.number),
    hash: fixedData(header.hash, 32),
    parentHash: fixedData(header.parentHash, 32),
    nonce: EMPTY_NONCE,
    sha3Uncles: data(EMPTY_UNCLE_HASH),
    logsBloom: fixedData(header.logsBloom, 256),
    transactionsRoot: fixedData(header.transactionsRoot, 32),
    stateRoot: fixedData(header.stateRoot, 32),
    receiptsRoot: fixedData(header.receiptsRoot, 32),
    miner: fixedData(header.coinbase, 20),
    difficulty: '0x0',
    totalDifficulty: '0x0',
    extraData: '0x',
    gasLimit: quantity(header.gasLimit),
    gasUsed: quantity(header.gasUsed),
    timestamp: quantity(header.timestamp),
    baseFeePerGas: quantityOfBytes(header.baseFeePerGas),
    mixHash: fixedData(header.mixHash, 32),
    withdrawalsRoot: data(EMPTY_ROOT),
    blobGasUsed: '0x0',
    excessBlobGas: '0x0',
    parentBeaconBlockRoot: data(ZERO_HASH),
  };
}

/**
 * A block with its transactions as hashes or, when `full`, as objects. `decoded[i]` is the
 * decoded form of `txs[i]`, needed only when full.
 */
export function formatBlock(header: BlockHeader, txs: Tx[], decoded: DecodedTx[] | undefined): JsonObject {
  const baseFeePerGas = bytesToBigint(header.baseFeePerGas);
  const transactions = decoded === undefined
    ? txs.map((tx) => fixedData(tx.hash, 32))
    : decoded.map((tx, index) => formatTx(tx, {
      blockHash: header.hash, blockNumber: header.number, index, effectiveGasPrice: effectiveGasPrice(tx, baseFeePerGas),
    }));
  return {
    ...formatHeader(header),
    size: quantity(blockSizeBytes(header, txs)),
    transactions,
    uncles: [],
    withdrawals: [],
  };
}

/** RLP size of the block (header, body), computed from the header's fields and the raw txs. */
function blockSizeBytes(header: BlockHeader, txs: Tx[]): number {
  const headerFields: Uint8Array[] = [
    header.parentHash, EMPTY_UNCLE_HASH, header.coinbase, header.stateRoot, header.transactionsRoot,
    header.receiptsRoot, header.logsBloom, new Uint8Array(0), bigintBytes(header.number), bigintBytes(header.gasLimit),
    bigintBytes(header.gasUsed), bigintBytes(header.timestamp), new Uint8Array(0), header.mixHash, new Uint8Array(8),
    header.baseFeePerGas, EMPTY_ROOT, new Uint8Array(0), new Uint8Array(0), ZERO_HASH,
  ];
  let txBytes = 0;
  for (const tx of txs) txBytes += tx.raw.length + (tx.raw[0]! >= 0xc0 ? 0 : rlpStringOverhead(tx.raw.length));
  const headerBytes = RLP.encode(headerFields).length;
  const body = headerBytes + rlpListOverhead(txBytes) + txBytes + 2; // + empty uncles and withdrawals lists
  return body + rlpListOverhead(body);
}

const rlpStringOverhead = (length: number): number => (length < 56 ? 1 : 1 + byteLength(length));
const rlpListOverhead = (length: number): number => (length < 56 ? 1 : 1 + byteLength(length));
const byteLength = (n: number): number => Math.max(1, Math.ceil(n.toString(16).length / 2));

/** A transaction; pending (no location) when not yet in a block. */
export function formatTx(tx: DecodedTx, location: TxLocation | undefined): JsonObject {
  const isDynamicFee = tx.type === TransactionType.FeeMarketEIP1559;
  const gasPrice = isDynamicFee && location !== undefined ? location.effectiveGasPrice : tx.gasPrice;
  const out: JsonObject = {
    blockHash: location === undefined ? null : fixedData(location.blockHash, 32),
    blockNumber: location === undefined ? null : quantity(location.blockNumber),
    from: fixedData(tx.sender, 20),
    gas: quantity(tx.gasLimit),
    gasPrice: quantity(gasPrice),
    hash: fixedData(tx.hash, 32),
    input: data(tx.data),
    nonce: quantity(tx.nonce),
    to: tx.to === null ? null : fixedData(tx.to, 20),
    transactionIndex: location === undefined ? null : quantity(location.index),
    value: quantity(tx.value),
    type: quantity(tx.type),
  };
  if (isDynamicFee) {
    out['maxFeePerGas'] = quantity(tx.maxFeePerGas);
    out['maxPriorityFeePerGas'] = quantity(tx.maxPriorityFeePerGas);
  }
  if (tx.type !== TransactionType.Legacy) {
    out['accessList'] = tx.accessList.map((entry) => ({
      address: fixedData(entry.address, 20),
      storageKeys: entry.storageKeys.map((key) => fixedData(key, 32)),
    }));
  }
  if (tx.chainId !== null) out['chainId'] = quantity(tx.chainId);
  const v = tx.tx.v ?? 0n;
  out['v'] = quantity(v);
  out['r'] = quantity(tx.tx.r ?? 0n);
  out['s'] = quantity(tx.tx.s ?? 0n);
  if (tx.type !== TransactionType.Legacy) out['yParity'] = quantity(v);
  return out;
}

/** min(maxFeePerGas, baseFee + maxPriorityFeePerGas); legacy and EIP-2930: the gas price. */
export function effectiveGasPrice(tx: DecodedTx, baseFeePerGas: bigint): bigint {
  if (tx.type !== TransactionType.FeeMarketEIP1559) return tx.gasPrice;
  const tipped = baseFeePerGas + tx.maxPriorityFeePerGas;
  return tipped < tx.maxFeePerGas ? tipped : tx.maxFeePerGas;
}

export interface ReceiptLocation {
  blockHash: Buffer;
  blockNumber: bigint;
}

export function formatReceipt(receipt: Receipt, at: ReceiptLocation): JsonObject {
  const txHash = fixedData(receipt.txHash, 32);
  const blockHash = fixedData(at.blockHash, 32);
  const blockNumber = quantity(at.blockNumber);
  const transactionIndex = quantity(receipt.txIndex);
  return {
    transactionHash: txHash,
    transactionIndex,
    blockHash,
    blockNumber,
    from: fixedData(receipt.from, 20),
    to: addressOrNull(receipt.to),
    cumulativeGasUsed: quantity(receipt.cumulativeGasUsed),
    gasUsed: quantity(receipt.gasUsed),
    effectiveGasPrice: quantityOfBytes(receipt.effectiveGasPrice),
    contractAddress: addressOrNull(receipt.contractAddress),
    logs: receipt.logs.map((log, i) => formatLogAt(log, {
      logIndex: receipt.firstLogIndex + i, transactionIndex, blockNumber, blockHash, transactionHash: txHash,
    })),
    logsBloom: fixedData(receipt.logsBloom, 256),
    status: receipt.success ? '0x1' : '0x0',
    type: quantity(receipt.txType),
  };
}

interface LogPosition {
  logIndex: number;
  transactionIndex: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
}

function formatLogAt(log: Log, at: LogPosition): JsonObject {
  return {
    address: fixedData(log.address, 20),
    topics: log.topics.map((topic) => fixedData(topic, 32)),
    data: data(log.data),
    blockNumber: at.blockNumber,
    blockHash: at.blockHash,
    transactionHash: at.transactionHash,
    transactionIndex: at.transactionIndex,
    logIndex: quantity(at.logIndex),
    removed: false,
  };
}

/** A log as eth_getLogs returns it. */
export function formatLogEntry(entry: LogEntry): JsonObject {
  return formatLogAt(entry.log ?? { address: Buffer.alloc(20), topics: [], data: Buffer.alloc(0) }, {
    logIndex: entry.logIndex,
    transactionIndex: quantity(entry.txIndex),
    blockNumber: quantity(entry.blockNumber),
    blockHash: fixedData(entry.blockHash, 32),
    transactionHash: fixedData(entry.txHash, 32),
  });
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
}

function bigintBytes(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

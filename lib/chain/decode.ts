// Turns the raw bytes a client submits (eth_sendRawTransaction) into a checked, sender-recovered
// transaction. Lanes parses and validates the RLP fields itself and recovers the sender with the
// native `secp256k1` addon (≈50 µs) rather than @ethereumjs/tx's pure-JS path (≈1 ms); the
// @ethereumjs/tx object, which costs as much again to build, is built only when someone asks for
// it (executors do, ingress does not). Field validation is a superset of what @ethereumjs/tx
// checks, so every accepted transaction also builds there (decode.test.ts checks this property).
// Any failure is a TxRejectedError: callers never see a raw exception from untrusted input.
import { createRequire } from 'node:module';
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import {
  createAccessList2930TxFromBytesArray,
  create1559FeeMarketTxFromBytesArray,
  createLegacyTxFromBytesArray,
  TransactionType,
  type TypedTransaction,
} from '@ethereumjs/tx';
import { keccak256 } from '../crypto/keccak.js';
import { bytesToBigint } from '../state/keys.js';
import { TxRejectedError } from './errors.js';
import { rlpEncode } from './rlp.js';

/** A decoded transaction with its sender recovered: what ingress admits and executors run. */
export interface DecodedTx {
  /** The encoding as submitted, which decode checked is canonical (typed: type byte ‖ RLP). */
  raw: Buffer;
  /** keccak256(raw): the transaction hash. */
  hash: Buffer;
  sender: Buffer;
  type: number;
  /** null only for a pre-EIP-155 legacy transaction (replayable on any chain). */
  chainId: bigint | null;
  nonce: bigint;
  gasLimit: bigint;
  /** null for a contract creation. */
  to: Buffer | null;
  value: bigint;
  data: Buffer;
  /** Legacy and EIP-2930: the gas price; EIP-1559: maxFeePerGas. */
  gasPrice: bigint;
  /** Legacy and EIP-2930: the gas price. */
  maxFeePerGas: bigint;
  /** Legacy and EIP-2930: the gas price. */
  maxPriorityFeePerGas: bigint;
  accessList: AccessListEntry[];
  /** Signature as encoded: legacy v (27/28 or chainId*2+35/36), typed y parity (0/1). */
  v: bigint;
  r: bigint;
  s: bigint;
  /**
   * The @ethereumjs/tx object, built on first access (≈50 µs) with its hash and sender public key
   * already cached, so @ethereumjs/vm's runTx never recovers the sender again.
   */
  readonly tx: TypedTransaction;
}

export interface AccessListEntry {
  address: Buffer;
  storageKeys: Buffer[];
}

type Secp256k1 = typeof import('secp256k1');

/**
 * The `secp256k1` package silently falls back to pure JS when its addon does not load; that is
 * 20× slower, so load the addon explicitly and say which one runs (health and bench report it).
 */
function loadSecp256k1(): { lib: Secp256k1; native: boolean } {
  const require = createRequire(import.meta.url);
  try {
    return { lib: require('secp256k1/bindings') as Secp256k1, native: true };
  } catch {
    return { lib: require('secp256k1/elliptic') as Secp256k1, native: false };
  }
}

const secp = loadSecp256k1();
export const SENDER_RECOVERY_NATIVE: boolean = secp.native;

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SECP256K1_N_HALF = SECP256K1_N >> 1n;
const MAX_UINT256 = (1n << 256n) - 1n;
/** EIP-2681: a nonce is below 2^64 - 1. */
const MAX_NONCE = (1n << 64n) - 2n;
/** EIP-3860 (Shanghai): the largest initcode a creation transaction may carry. */
export const MAX_INITCODE_BYTES = 49_152;
/** Error details quote library messages; keep them short, they go back to anonymous clients. */
const MAX_DETAIL_CHARS = 200;
const EMPTY = new Uint8Array(0);

/** Where each field sits in an envelope's RLP list (after the type byte for typed ones). */
interface Layout {
  type: number;
  count: number;
  chainId: number;
  nonce: number;
  gasPrice: number;
  maxPriorityFee: number;
  gasLimit: number;
  to: number;
  value: number;
  data: number;
  accessList: number;
  v: number;
}
const NONE = -1;
const LEGACY: Layout = {
  type: TransactionType.Legacy, count: 9, chainId: NONE, nonce: 0, gasPrice: 1, maxPriorityFee: NONE,
  gasLimit: 2, to: 3, value: 4, data: 5, accessList: NONE, v: 6,
};
const EIP2930: Layout = {
  type: TransactionType.AccessListEIP2930, count: 11, chainId: 0, nonce: 1, gasPrice: 2, maxPriorityFee: NONE,
  gasLimit: 3, to: 4, value: 5, data: 6, accessList: 7, v: 8,
};
const EIP1559: Layout = {
  type: TransactionType.FeeMarketEIP1559, count: 12, chainId: 0, nonce: 1, maxPriorityFee: 2, gasPrice: 3,
  gasLimit: 4, to: 5, value: 6, data: 7, accessList: 8, v: 9,
};

/** The RLP list: byte strings, except the access list. */
type Fields = (Uint8Array | unknown[])[];

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_DETAIL_CHARS ? text.slice(0, MAX_DETAIL_CHARS) + '…' : text;
}

function invalidSignature(detail: string): TxRejectedError {
  return new TxRejectedError('invalid-sender', `invalid transaction v, r, s values (${detail})`);
}

/** A canonical unsigned integer field: at most `maxBytes`, no leading zero byte. */
function integer(fields: Fields, index: number, name: string, maxBytes: number): bigint {
  const bytes = fields[index] as Uint8Array;
  if (bytes.length > maxBytes) throw new TxRejectedError('invalid-encoding', `${name} longer than ${maxBytes} bytes`);
  if (bytes.length > 0 && bytes[0] === 0) throw new TxRejectedError('invalid-encoding', `${name} has leading zeros`);
  return bytesToBigint(bytes);
}

/** Envelope layout and RLP payload; rejects unsupported types before touching the payload. */
function splitEnvelope(raw: Uint8Array): { layout: Layout; payload: Uint8Array } {
  if (raw.length === 0) throw new TxRejectedError('invalid-encoding', 'empty input');
  const first = raw[0]!;
  if (first >= 0xc0) return { layout: LEGACY, payload: raw };
  if (first === TransactionType.AccessListEIP2930) return { layout: EIP2930, payload: raw.subarray(1) };
  if (first === TransactionType.FeeMarketEIP1559) return { layout: EIP1559, payload: raw.subarray(1) };
  if (first <= 0x7f) throw new TxRejectedError('tx-type-not-supported', `type ${first}`);
  throw new TxRejectedError('invalid-encoding', 'rlp: expected input list for types.LegacyTx');
}

/** RLP-decodes (the decoder rejects non-canonical lengths) and checks the list's shape. */
function decodeFields(payload: Uint8Array, layout: Layout): Fields {
  let decoded: unknown;
  try {
    decoded = RLP.decode(payload);
  } catch (error) {
    throw new TxRejectedError('invalid-encoding', `rlp: ${describe(error)}`);
  }
  if (!Array.isArray(decoded)) throw new TxRejectedError('invalid-encoding', 'rlp: expected input list');
  if (decoded.length !== layout.count) {
    throw decoded.length === layout.count - 3
      ? new TxRejectedError('invalid-sender', 'transaction is not signed')
      : new TxRejectedError('invalid-encoding', `rlp: expected ${layout.count} fields, got ${decoded.length}`);
  }
  for (let i = 0; i < decoded.length; i++) {
    if (i !== layout.accessList && !(decoded[i] instanceof Uint8Array)) {
      throw new TxRejectedError('invalid-encoding', `rlp: field ${i} must be a byte string`);
    }
  }
  return decoded as Fields;
}

function parseAccessList(value: unknown): AccessListEntry[] {
  const bad = (detail: string): TxRejectedError => new TxRejectedError('invalid-encoding', `access list: ${detail}`);
  if (!Array.isArray(value)) throw bad('must be a list');
  return value.map((item: unknown): AccessListEntry => {
    if (!Array.isArray(item) || item.length !== 2) throw bad('each entry must be [address, storageKeys]');
    const [address, keys] = item as unknown[];
    if (!(address instanceof Uint8Array) || address.length !== 20) throw bad('address must be 20 bytes');
    if (!Array.isArray(keys)) throw bad('storage keys must be a list');
    const storageKeys = keys.map((key: unknown) => {
      if (!(key instanceof Uint8Array) || key.length !== 32) throw bad('storage key must be 32 bytes');
      return asBuffer(key);
    });
    return { address: asBuffer(address), storageKeys };
  });
}

/** Chain id and recovery id: legacy v is 27/28 (pre-EIP-155) or chainId*2+35/36; typed: y parity. */
function chainAndRecovery(fields: Fields, layout: Layout): { v: bigint; chainId: bigint | null; recovery: number } {
  const v = integer(fields, layout.v, 'v', 32);
  if (layout.type !== TransactionType.Legacy) {
    if (v > 1n) throw invalidSignature('y parity must be 0 or 1');
    return { v, chainId: integer(fields, layout.chainId, 'chainId', 32), recovery: Number(v) };
  }
  if (v === 27n || v === 28n) return { v, chainId: null, recovery: Number(v - 27n) };
  if (v >= 37n) return { v, chainId: (v - 35n) >> 1n, recovery: Number((v - 35n) & 1n) };
  throw invalidSignature(`legacy v = ${v}`);
}

/** r and s, after the range checks geth applies (EIP-2: low s). */
function signatureValues(fields: Fields, layout: Layout): { r: bigint; s: bigint } {
  const rBytes = fields[layout.v + 1] as Uint8Array;
  const sBytes = fields[layout.v + 2] as Uint8Array;
  if (rBytes.length > 32 || sBytes.length > 32) throw invalidSignature('r or s longer than 32 bytes');
  const r = integer(fields, layout.v + 1, 'r', 32);
  const s = integer(fields, layout.v + 2, 's', 32);
  if (r === 0n || r >= SECP256K1_N) throw invalidSignature('r out of range');
  if (s === 0n) throw invalidSignature('s is zero');
  if (s > SECP256K1_N_HALF) throw invalidSignature('s above secp256k1n/2 (EIP-2)');
  return { r, s };
}

/** 64-byte r ‖ s for the addon (fields checked by signatureValues): only the sender's recovery needs it. */
function compactSignature(fields: Fields, layout: Layout): Uint8Array {
  const rBytes = fields[layout.v + 1] as Uint8Array;
  const sBytes = fields[layout.v + 2] as Uint8Array;
  const signature = new Uint8Array(64);
  signature.set(rBytes, 32 - rBytes.length);
  signature.set(sBytes, 64 - sBytes.length);
  return signature;
}

/** The hash the sender signed: the unsigned fields (legacy EIP-155: plus chainId, 0, 0). */
function signingHash(fields: Fields, layout: Layout, chainId: bigint | null): Uint8Array {
  const unsigned = fields.slice(0, layout.v) as Uint8Array[];
  if (layout.type !== TransactionType.Legacy) return keccak256(rlpEncode(unsigned, layout.type));
  if (chainId !== null) {
    const hex = chainId.toString(16);
    unsigned.push(Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex'), EMPTY, EMPTY);
  }
  return keccak256(rlpEncode(unsigned));
}

/** Recovers the 64-byte public key (no 0x04 prefix). */
function recoverPublicKey(messageHash: Uint8Array, signature: Uint8Array, recovery: number): Uint8Array {
  try {
    return secp.lib.ecdsaRecover(signature, recovery, messageHash, false).subarray(1);
  } catch {
    throw new TxRejectedError('invalid-sender', 'signature does not recover a public key');
  }
}

/** The parsed fields, checked as strictly as @ethereumjs/tx's constructors check them (or more). */
function parseBody(fields: Fields, layout: Layout) {
  const nonce = integer(fields, layout.nonce, 'nonce', 8);
  if (nonce > MAX_NONCE) throw new TxRejectedError('invalid-encoding', 'nonce has max value (EIP-2681)');
  const gasLimit = integer(fields, layout.gasLimit, 'gas limit', 8);
  const gasPrice = integer(fields, layout.gasPrice, layout.maxPriorityFee === NONE ? 'gas price' : 'max fee per gas', 32);
  const maxPriorityFeePerGas =
    layout.maxPriorityFee === NONE ? gasPrice : integer(fields, layout.maxPriorityFee, 'max priority fee per gas', 32);
  const value = integer(fields, layout.value, 'value', 32);
  const toBytes = fields[layout.to] as Uint8Array;
  if (toBytes.length !== 0 && toBytes.length !== 20) throw new TxRejectedError('invalid-encoding', 'to must be empty or 20 bytes');
  const data = asBuffer(fields[layout.data] as Uint8Array);
  if (toBytes.length === 0 && data.length > MAX_INITCODE_BYTES) {
    throw new TxRejectedError('max-initcode-size-exceeded', `code size ${data.length}, limit ${MAX_INITCODE_BYTES}`);
  }
  if (maxPriorityFeePerGas > gasPrice) {
    throw new TxRejectedError('tip-above-fee-cap', `maxPriorityFeePerGas: ${maxPriorityFeePerGas}, maxFeePerGas: ${gasPrice}`);
  }
  if (gasLimit * gasPrice > MAX_UINT256) {
    throw new TxRejectedError('invalid-encoding', 'gas limit * gas price exceeds 2^256-1');
  }
  const accessList = layout.accessList === NONE ? [] : parseAccessList(fields[layout.accessList]);
  const to = toBytes.length === 0 ? null : asBuffer(toBytes);
  return { nonce, gasLimit, gasPrice, maxPriorityFeePerGas, value, to, data, accessList };
}

function buildTx(layout: Layout, fields: Fields, common: Common): TypedTransaction {
  // Fields are the library's own `TxValuesArray` shape, already checked above.
  const values = fields as never;
  try {
    if (layout.type === TransactionType.Legacy) return createLegacyTxFromBytesArray(values, { common });
    if (layout.type === TransactionType.AccessListEIP2930) return createAccessList2930TxFromBytesArray(values, { common });
    return create1559FeeMarketTxFromBytesArray(values, { common });
  } catch (error) {
    // Unreachable when the checks above are a superset of the library's (a tested property).
    throw new TxRejectedError('invalid-encoding', describe(error), { cause: error });
  }
}

/** What buildTx needs later; kept off the enumerable fields so a DecodedTx spreads cleanly. */
interface BuildInput {
  fields: Fields;
  layout: Layout;
  common: Common;
  publicKey: Uint8Array;
}

class DecodedTransaction implements DecodedTx {
  readonly raw: Buffer;
  readonly hash: Buffer;
  readonly sender: Buffer;
  readonly type: number;
  readonly chainId: bigint | null;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  readonly to: Buffer | null;
  readonly value: bigint;
  readonly data: Buffer;
  readonly gasPrice: bigint;
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  readonly accessList: AccessListEntry[];
  readonly v: bigint;
  readonly r: bigint;
  readonly s: bigint;
  #input: BuildInput;
  #built: TypedTransaction | undefined;

  constructor(init: Omit<DecodedTx, 'tx'>, input: BuildInput) {
    this.raw = init.raw;
    this.hash = init.hash;
    this.sender = init.sender;
    this.type = init.type;
    this.chainId = init.chainId;
    this.nonce = init.nonce;
    this.gasLimit = init.gasLimit;
    this.to = init.to;
    this.value = init.value;
    this.data = init.data;
    this.gasPrice = init.gasPrice;
    this.maxFeePerGas = init.maxFeePerGas;
    this.maxPriorityFeePerGas = init.maxPriorityFeePerGas;
    this.accessList = init.accessList;
    this.v = init.v;
    this.r = init.r;
    this.s = init.s;
    this.#input = input;
  }

  get tx(): TypedTransaction {
    if (this.#built === undefined) {
      const { fields, layout, common, publicKey } = this.#input;
      const tx = buildTx(layout, fields, common);
      // The object is frozen but its cache is not.
      tx.cache.hash = this.hash;
      tx.cache.senderPubKey = publicKey;
      this.#built = tx;
    }
    return this.#built;
  }
}

/**
 * Decodes a signed legacy (EIP-155 or pre-155), EIP-2930 or EIP-1559 transaction and recovers its
 * sender. `common` fixes the chain id: a typed or EIP-155 transaction for another chain is
 * rejected here ('invalid-chain-id'). A pre-EIP-155 transaction decodes with `chainId: null`;
 * admission rejects it. The input must be canonical, since the hash is keccak256 of these bytes.
 */
export function decodeTransaction(raw: Uint8Array, common: Common): DecodedTx {
  const { layout, fields, chainId, v, recovery, r, s, body } = checkFields(raw, common);
  const publicKey = recoverPublicKey(signingHash(fields, layout, chainId), compactSignature(fields, layout), recovery);
  const rawBuffer = Buffer.from(raw);
  const init: Omit<DecodedTx, 'tx'> = {
    raw: rawBuffer,
    hash: Buffer.from(keccak256(rawBuffer)),
    sender: Buffer.from(keccak256(publicKey).subarray(12)),
    type: layout.type,
    chainId,
    ...body,
    maxFeePerGas: body.gasPrice,
    v,
    r,
    s,
  };
  return new DecodedTransaction(init, { fields, layout, common, publicKey });
}

/** Everything decodeTransaction checks, up to the sender's recovery. */
function checkFields(raw: Uint8Array, common: Common) {
  const { layout, payload } = splitEnvelope(raw);
  const fields = decodeFields(payload, layout);
  const { v, chainId, recovery } = chainAndRecovery(fields, layout);
  if (chainId !== null && chainId !== common.chainId()) {
    throw new TxRejectedError('invalid-chain-id', `have ${chainId} want ${common.chainId()}`);
  }
  const { r, s } = signatureValues(fields, layout);
  const body = parseBody(fields, layout);
  return { layout, fields, chainId, v, recovery, r, s, body };
}

/**
 * A transaction's fields after every check decodeTransaction makes except the sender's recovery
 * (its signature is only range-checked): for a caller that knows the sender already (an executor:
 * ingress recovered it) and builds the library's object from these (lib/evm/txBuild.ts). Since
 * the checks are a superset of @ethereumjs/tx's, a transaction that passes them also builds there.
 */
export interface CheckedFields {
  type: number;
  chainId: bigint | null;
  nonce: bigint;
  gasLimit: bigint;
  /** Legacy and EIP-2930: the gas price; EIP-1559: maxFeePerGas. */
  gasPrice: bigint;
  maxPriorityFeePerGas: bigint;
  value: bigint;
  /** The raw 20 bytes, or null for a creation. */
  to: Buffer | null;
  data: Buffer;
  /** The access list as decoded RLP: [address, [storage key…]]…, each checked. */
  accessListRlp: unknown[];
  v: bigint;
  r: bigint;
  s: bigint;
}

/** checkFields for callers outside this module; throws TxRejectedError like decodeTransaction. */
export function checkTransactionFields(raw: Uint8Array, common: Common): CheckedFields {
  const { layout, fields, chainId, v, r, s, body } = checkFields(raw, common);
  const accessListRlp = layout.accessList === NONE ? [] : (fields[layout.accessList] as unknown[]);
  return {
    type: layout.type, chainId, nonce: body.nonce, gasLimit: body.gasLimit, gasPrice: body.gasPrice,
    maxPriorityFeePerGas: body.maxPriorityFeePerGas, value: body.value, to: body.to, data: body.data, accessListRlp, v, r, s,
  };
}

/** Like decodeTransaction, for input given as a 0x-prefixed hex string (eth_sendRawTransaction). */
export function decodeTransactionHex(hex: string, common: Common): DecodedTx {
  if (typeof hex !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new TxRejectedError('invalid-encoding', 'expected 0x-prefixed hex with an even number of digits');
  }
  return decodeTransaction(Buffer.from(hex.slice(2), 'hex'), common);
}

// Deterministic benchmark accounts and fast transaction signing: keys derived from a seed, EIP-1559
// envelopes built with RLP and signed with the native secp256k1 addon (≈ 20× faster than a pure-JS
// signer), so tens of thousands of transactions are signed in about a second, before the timed phase.
import { createRequire } from 'node:module';
import { RLP } from '@ethereumjs/rlp';
import { keccak256 } from '../crypto/keccak.js';

type Secp256k1 = typeof import('secp256k1');
const secp: Secp256k1 = createRequire(import.meta.url)('secp256k1') as Secp256k1;

export interface BenchAccount {
  index: number;
  privateKey: Buffer;
  /** 20 bytes. */
  address: Buffer;
}

/** Account `index` of `seed`: the private key is keccak256 of a label, re-hashed until valid. */
export function deriveAccount(seed: string, index: number): BenchAccount {
  let key = Buffer.from(keccak256(Buffer.from(`lanes-bench-account:${seed}:${index}`, 'utf8')));
  while (!secp.privateKeyVerify(key)) key = Buffer.from(keccak256(key));
  return { index, privateKey: key, address: addressOf(key) };
}

export function addressOf(privateKey: Uint8Array): Buffer {
  const pub = secp.publicKeyCreate(privateKey, false);
  return Buffer.from(keccak256(pub.subarray(1))).subarray(12);
}

export interface Eip1559Fields {
  chainId: bigint;
  nonce: bigint;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  /** 20 bytes, or null for a contract creation. */
  to: Uint8Array | null;
  value: bigint;
  data: Uint8Array;
}

export interface SignedTx {
  raw: Buffer;
  hash: Buffer;
  sender: Buffer;
}

/** Minimal big-endian bytes of a non-negative integer (0 → empty), the RLP integer form. */
function quantity(value: bigint): Uint8Array {
  if (value < 0n) throw new Error('negative quantity');
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

function stripZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** Signs a type-2 (EIP-1559) transaction with an empty access list. */
export function signEip1559(fields: Eip1559Fields, account: BenchAccount): SignedTx {
  const body = [
    quantity(fields.chainId), quantity(fields.nonce), quantity(fields.maxPriorityFeePerGas), quantity(fields.maxFeePerGas),
    quantity(fields.gasLimit), fields.to ?? new Uint8Array(0), quantity(fields.value), fields.data, [],
  ];
  const unsigned = Buffer.concat([Buffer.from([0x02]), RLP.encode(body)]);
  const { signature, recid } = secp.ecdsaSign(keccak256(unsigned), account.privateKey);
  const signed = RLP.encode([...body, quantity(BigInt(recid)), stripZeros(signature.subarray(0, 32)), stripZeros(signature.subarray(32, 64))]);
  const raw = Buffer.concat([Buffer.from([0x02]), signed]);
  return { raw, hash: Buffer.from(keccak256(raw)), sender: account.address };
}

/** The address a contract created by `sender` with `nonce` gets (CREATE). */
export function createAddress(sender: Uint8Array, nonce: bigint): Buffer {
  return Buffer.from(keccak256(RLP.encode([sender, quantity(nonce)]))).subarray(12);
}

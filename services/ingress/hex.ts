// The JSON-RPC value codecs: Ethereum "quantities" (minimal hex) and "data" (0x-hex bytes), both
// directions. Parsers throw the -32602 invalid-params error a client can act on.
import { invalidParams } from '../../lib/chain/errors.js';

const QUANTITY_RE = /^0x[0-9a-fA-F]{1,64}$/;
const DATA_RE = /^0x(?:[0-9a-fA-F]{2})*$/;
const UINT64_MAX = (1n << 64n) - 1n;

/** Minimal hex of a non-negative integer: 0 → "0x0", 255 → "0xff". */
export function quantity(value: bigint | number): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`quantity: not a non-negative safe integer: ${value}`);
  } else if (value < 0n) {
    throw new Error(`quantity: negative ${value}`);
  }
  return '0x' + value.toString(16);
}

/** Big-endian unsigned bytes (wei amounts on the wire) as a quantity; empty = 0. */
export function quantityOfBytes(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return '0x0';
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset + i, bytes.length - i).toString('hex');
  return '0x' + (hex[0] === '0' ? hex.slice(1) : hex);
}

export function data(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Fixed-width data, left-padded with zeros (hashes and addresses stored shorter or empty). */
export function fixedData(bytes: Uint8Array, width: number): string {
  if (bytes.length > width) throw new Error(`fixedData: ${bytes.length} bytes exceed width ${width}`);
  return '0x' + '00'.repeat(width - bytes.length) + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** An address or null when the field is empty (contract creation `to`, no contract address). */
export function addressOrNull(bytes: Uint8Array): string | null {
  return bytes.length === 0 ? null : fixedData(bytes, 20);
}

export function parseQuantity(value: unknown, what: string, max: bigint = (1n << 256n) - 1n): bigint {
  if (typeof value !== 'string' || !QUANTITY_RE.test(value)) {
    throw invalidParams(`${what}: expected a hex quantity, got ${describe(value)}`);
  }
  const n = BigInt(value);
  if (n > max) throw invalidParams(`${what}: ${value} out of range`);
  return n;
}

export function parseUint64(value: unknown, what: string): bigint {
  return parseQuantity(value, what, UINT64_MAX);
}

export function parseData(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !DATA_RE.test(value)) {
    throw invalidParams(`${what}: expected 0x-prefixed hex bytes, got ${describe(value)}`);
  }
  return Buffer.from(value.slice(2), 'hex');
}

export function parseFixedData(value: unknown, width: number, what: string): Buffer {
  const bytes = parseData(value, what);
  if (bytes.length !== width) throw invalidParams(`${what}: expected ${width} bytes, got ${bytes.length}`);
  return bytes;
}

export const parseAddress = (value: unknown, what: string): Buffer => parseFixedData(value, 20, what);
export const parseHash = (value: unknown, what: string): Buffer => parseFixedData(value, 32, what);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
  if (value === undefined) return 'nothing';
  return typeof value;
}

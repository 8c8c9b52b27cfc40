// RLP encoding (Yellow Paper, appendix B) for the hot paths: a receipt's leaf for the receipts
// root (the state service, once per tx per commit) and a tx's signing hash (ingress, once per tx).
// @ethereumjs/rlp's `encode` writes each length prefix through a hex string and concatenates the
// items of every list level into new arrays: a receipt with one log took 15–56 µs to encode on
// these machines, more than the keccak after it, and ≈ 13 ms of each 500-tx ERC-20 commit. Here
// one pass measures every list, a second writes the whole encoding into one buffer.
// Decoding stays with @ethereumjs/rlp (ingress' checks depend on its strictness).

/** A byte string, or a list of items. */
export type RlpItem = Uint8Array | readonly RlpItem[];

/** Bytes taken by the big-endian length `n` (n > 0). */
function lengthBytes(n: number): number {
  let bytes = 0;
  while (n > 0) {
    bytes++;
    n = Math.floor(n / 256);
  }
  return bytes;
}

/** Bytes of the prefix before a payload of `n` bytes (strings and lists alike). */
function prefixBytes(n: number): number {
  return n < 56 ? 1 : 1 + lengthBytes(n);
}

/**
 * Encoded size of `item`; each list's payload size is pushed to `sizes` in pre-order, so the write
 * pass does not measure a nested list twice.
 */
function measure(item: RlpItem, sizes: number[]): number {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return 1;
    return prefixBytes(item.length) + item.length;
  }
  const at = sizes.length;
  sizes.push(0);
  let payload = 0;
  for (const child of item) payload += measure(child, sizes);
  sizes[at] = payload;
  return prefixBytes(payload) + payload;
}

/** Writes the prefix for a payload of `n` bytes at `pos` (short offset 0x80 or 0xc0); returns the next position. */
function writePrefix(out: Uint8Array, pos: number, n: number, short: number): number {
  if (n < 56) {
    out[pos] = short + n;
    return pos + 1;
  }
  const bytes = lengthBytes(n);
  out[pos] = short + 55 + bytes;
  for (let i = bytes; i > 0; i--) {
    out[pos + i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  return pos + 1 + bytes;
}

/** Writes `item` at `pos`, taking list sizes from `sizes` from `cursor.next` on; returns the next position. */
function write(item: RlpItem, out: Uint8Array, pos: number, sizes: number[], cursor: { next: number }): number {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) {
      out[pos] = item[0]!;
      return pos + 1;
    }
    pos = writePrefix(out, pos, item.length, 0x80);
    out.set(item, pos);
    return pos + item.length;
  }
  pos = writePrefix(out, pos, sizes[cursor.next++]!, 0xc0);
  for (const child of item) pos = write(child, out, pos, sizes, cursor);
  return pos;
}

/**
 * The RLP encoding of `item`, byte for byte what @ethereumjs/rlp's `encode` gives for the same
 * input. `typePrefix` (0–0x7f), when given, is written before it, as in a typed transaction's or
 * receipt's envelope (EIP-2718), so the caller hashes one buffer.
 */
export function rlpEncode(item: RlpItem, typePrefix?: number): Buffer {
  const sizes: number[] = [];
  const size = measure(item, sizes);
  const head = typePrefix === undefined ? 0 : 1;
  const out = Buffer.allocUnsafe(head + size);
  if (typePrefix !== undefined) out[0] = typePrefix;
  const end = write(item, out, head, sizes, { next: 0 });
  if (end !== out.length) throw new Error(`rlpEncode: wrote ${end} of ${out.length} bytes`);
  return out;
}

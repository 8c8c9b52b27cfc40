// The state root: a lattice hash (LtHash, as in Solana's accounts hash and Facebook's LtHash
// paper) over every (key, value) entry of the flat state (lib/state/keys.ts). Each entry maps to
// 1024 16-bit lanes by SHAKE256 (an extendable-output function, native in node:crypto: ≈ 8 µs
// per entry here against ≈ 100 µs for pure-JS BLAKE3 XOF) of `len(key) u32 BE ‖ key ‖ value`;
// the lattice is their lane-wise sum mod 2^16; the root is SHA3-256 of the lattice. Why this and
// not a Merkle-Patricia trie:
// - it commits to the whole state: equal roots mean equal sets of entries, with the collision
//   resistance the LtHash paper proves for 2048-byte lattices;
// - updating it costs O(writes): remove the old entry's hash, add the new one's, whatever the
//   size of the state, and the order of updates does not matter (parallel-friendly);
// - it gives no inclusion proofs; light clients are not a goal of this layer.
//
// Every committed write costs two entry hashes (the old value out, the new one in): with the
// durable write, the largest part of a commit in the state service. So the SHAKE256 output is used in place as
// little-endian lanes (no per-lane byte assembly, which cost a third as much as the hash), the
// input is spelled into one scratch buffer, and the two entries of a write are folded into the
// lattice in one pass.
import { createHash } from 'node:crypto';
import type { StateKey } from './keys.js';

export const LATTICE_LANES = 1024;
export const LATTICE_BYTES = LATTICE_LANES * 2;

/** Lanes are little-endian; on such a host a digest's bytes are its lanes as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Hash input: 4 length bytes, then a key (at most 53 bytes), then an account or storage value; code values may be longer. */
const SCRATCH_BYTES = 256;
const scratch = Buffer.alloc(SCRATCH_BYTES);

/** SHAKE256 of the entry's canonical encoding: LATTICE_BYTES bytes, its lanes little-endian. */
function entryDigest(key: StateKey, value: Uint8Array): Buffer {
  const keyBytes = key.length >>> 1;
  const total = 4 + keyBytes + value.length;
  const input = total <= SCRATCH_BYTES ? scratch : Buffer.alloc(total);
  input.writeUInt32BE(keyBytes, 0);
  if (input.write(key, 4, keyBytes, 'hex') !== keyBytes) throw new Error(`state root: key is not hex: ${key}`);
  input.set(value, 4 + keyBytes);
  return createHash('shake256', { outputLength: LATTICE_BYTES }).update(input.subarray(0, total)).digest();
}

/** The digest's lanes as a Uint16Array over its own memory when aligned, else in `spare`. */
function lanesOf(digest: Buffer, spare: Uint16Array): Uint16Array {
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < LATTICE_LANES; i++) spare[i] = digest[2 * i]! | (digest[2 * i + 1]! << 8);
    return spare;
  }
  if (digest.byteOffset % 2 === 0) return new Uint16Array(digest.buffer, digest.byteOffset, LATTICE_LANES);
  new Uint8Array(spare.buffer).set(digest);
  return spare;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Accumulates the state lattice; feed it every changed entry with its old and new value. */
export class StateRootAccumulator {
  private readonly lanes: Uint16Array;
  private readonly spareBefore = new Uint16Array(LATTICE_LANES);
  private readonly spareAfter = new Uint16Array(LATTICE_LANES);

  constructor(lattice?: Uint8Array) {
    this.lanes = new Uint16Array(LATTICE_LANES);
    if (lattice !== undefined) {
      if (lattice.length !== LATTICE_BYTES) throw new Error(`lattice must be ${LATTICE_BYTES} bytes, got ${lattice.length}`);
      const view = new DataView(lattice.buffer, lattice.byteOffset, lattice.byteLength);
      for (let i = 0; i < LATTICE_LANES; i++) this.lanes[i] = view.getUint16(i * 2, true);
    }
  }

  /** Replace entry `key`: `before`/`after` are null when the entry is absent. */
  update(key: StateKey, before: Uint8Array | null, after: Uint8Array | null): void {
    const lanes = this.lanes;
    if (before !== null && after !== null) {
      if (sameBytes(before, after)) return;
      const out = lanesOf(entryDigest(key, before), this.spareBefore);
      const into = lanesOf(entryDigest(key, after), this.spareAfter);
      for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = lanes[i]! - out[i]! + into[i]!; // Uint16Array stores mod 2^16
    } else if (before !== null) {
      const out = lanesOf(entryDigest(key, before), this.spareBefore);
      for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = lanes[i]! - out[i]!;
    } else if (after !== null) {
      const into = lanesOf(entryDigest(key, after), this.spareAfter);
      for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = lanes[i]! + into[i]!;
    }
  }

  /** The lattice, little-endian lanes; persist it to resume accumulation after a restart. */
  serialize(): Buffer {
    const out = Buffer.alloc(LATTICE_BYTES);
    for (let i = 0; i < LATTICE_LANES; i++) out.writeUInt16LE(this.lanes[i]!, i * 2);
    return out;
  }

  root(): Buffer {
    return createHash('sha3-256').update(this.serialize()).digest();
  }

  clone(): StateRootAccumulator {
    return new StateRootAccumulator(this.serialize());
  }
}

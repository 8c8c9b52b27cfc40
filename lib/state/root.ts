// The state root: a lattice hash (LtHash, as in Solana's accounts hash and Facebook's LtHash
// paper) over every (key, value) entry of the flat state (lib/state/keys.ts). Each entry maps to
// 1024 16-bit lanes by SHAKE256 (an extendable-output function, native in node:crypto: ≈ 20 µs
// per entry here against ≈ 100 µs for pure-JS BLAKE3 XOF); the lattice is their lane-wise sum
// mod 2^16; the root is SHA3-256 of the lattice. Why this and not a Merkle-Patricia trie:
// - it commits to the whole state: equal roots mean equal sets of entries, with the collision
//   resistance the LtHash paper proves for 2048-byte lattices;
// - updating it costs O(writes): remove the old entry's hash, add the new one's, whatever the
//   size of the state, and the order of updates does not matter (parallel-friendly);
// - it gives no inclusion proofs; light clients are not a goal of this layer.
import { createHash } from 'node:crypto';
import { keyToBytes, type StateKey } from './keys.js';

export const LATTICE_LANES = 1024;
export const LATTICE_BYTES = LATTICE_LANES * 2;

function entryLanes(key: StateKey, value: Uint8Array): Uint16Array {
  const keyBytes = keyToBytes(key);
  const input = new Uint8Array(4 + keyBytes.length + value.length);
  new DataView(input.buffer).setUint32(0, keyBytes.length, false);
  input.set(keyBytes, 4);
  input.set(value, 4 + keyBytes.length);
  const out = createHash('shake256', { outputLength: LATTICE_BYTES }).update(input).digest();
  // Lanes are little-endian; copy so the view is aligned whatever offset the digest has.
  const lanes = new Uint16Array(LATTICE_LANES);
  for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = out[2 * i]! | (out[2 * i + 1]! << 8);
  return lanes;
}

/** Accumulates the state lattice; feed it every changed entry with its old and new value. */
export class StateRootAccumulator {
  private readonly lanes: Uint16Array;

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
    if (before !== null && after !== null && Buffer.compare(Buffer.from(before), Buffer.from(after)) === 0) return;
    const lanes = this.lanes;
    if (before !== null) {
      const h = entryLanes(key, before);
      for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = (lanes[i]! - h[i]!) & 0xffff;
    }
    if (after !== null) {
      const h = entryLanes(key, after);
      for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = (lanes[i]! + h[i]!) & 0xffff;
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
